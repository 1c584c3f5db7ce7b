/**
 * Entity administration from the command line (`npm run cli -- --help`): vendors, gateways
 * and their ingest keys, agents, development console tokens. `CliCommand.ts` is the command
 * tree (`@effect/cli`); `runAdmin` runs one parsed command against the database and prints to
 * stdout through Effect's `Console`; every failure a user can cause is a `CliError` (one line
 * + hint, exit status 2) or, for a command line `@effect/cli` cannot parse, its
 * `ValidationError` (printed by `@effect/cli`, exit status 2).
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import { NodeFileSystem } from "@effect/platform-node"
import type { SqlClient } from "@effect/sql"
import { ConfigError, Console, Effect, type Layer } from "effect"
import { type AppSettingsService, describeConfigError } from "../config/AppConfig.js"
import type { EntityExists, EntityNotFound } from "./AdminRepo.js"
import { CliError } from "./CliError.js"
import type { Command } from "./Command.js"
import { agentCreate, agentList, vendorCreate, vendorList } from "./commands/entities.js"
import { listHint, type Output } from "./commands/format.js"
import { gatewayCreate, gatewayList, gatewayRotateKey, gatewaySetDisabled } from "./commands/gateway.js"
import { tokenMint } from "./commands/token.js"
import { DEV_SECRET_FILE, type JwtSecretError, MIN_SECRET_LENGTH } from "../auth/JwtSecret.js"

export { CLI, CliError, formatCliError, HELP_HINT } from "./CliError.js"
export { Command } from "./Command.js"
export { adminArgv, adminCommand, CLI_APP } from "./CliCommand.js"

/** What `runAdmin` needs besides the ones `main.ts` already has (database, `AppSettingsService`). */
export const AdminCliLive: Layer.Layer<FileSystem.FileSystem> = NodeFileSystem.layer

export type CliRequirements = SqlClient.SqlClient | AppSettingsService | FileSystem.FileSystem

/** Every command but `jobs run` (which needs the job runner; `src/jobs/Cli.ts`). */
export type AdminCommand = Exclude<Command, { readonly _tag: "JobRun" }>

type Failure = EntityExists | EntityNotFound | JwtSecretError | ConfigError.ConfigError
const toCliError = (error: Failure): CliError => {
  if (ConfigError.isConfigError(error)) {
    const message = describeConfigError(error)
    return new CliError({
      message,
      hint: message.includes("JWT_SECRET")
        ? `JWT_SECRET must hold at least ${MIN_SECRET_LENGTH} characters; unset, a development secret in DATA_DIR/${DEV_SECRET_FILE} is used`
        : "fix the environment variable named above"
    })
  }
  switch (error._tag) {
    case "EntityExists":
    case "EntityNotFound":
      return new CliError({ message: error.message, hint: listHint(error.entity) })
    case "JwtSecretError":
      return new CliError({ message: error.message, hint: "fix or delete the file, or set JWT_SECRET" })
  }
}

/** Runs one parsed command; returns the lines to print. */
export const execute = (command: AdminCommand): Effect.Effect<Output, CliError, CliRequirements> => {
  const run = (): Effect.Effect<Output, Failure, CliRequirements> => {
    switch (command._tag) {
      case "VendorCreate":
        return vendorCreate(command)
      case "VendorList":
        return vendorList(command)
      case "GatewayCreate":
        return gatewayCreate(command)
      case "GatewayRotateKey":
        return gatewayRotateKey(command)
      case "GatewayList":
        return gatewayList(command)
      case "GatewayDisable":
        return gatewaySetDisabled(true)(command)
      case "GatewayEnable":
        return gatewaySetDisabled(false)(command)
      case "AgentCreate":
        return agentCreate(command)
      case "AgentList":
        return agentList(command)
      case "TokenMint":
        return tokenMint(command)
    }
  }
  return run().pipe(Effect.mapError(toCliError))
}

/** Runs one parsed command and prints its lines. */
export const runAdmin = (command: AdminCommand): Effect.Effect<void, CliError, CliRequirements> =>
  execute(command).pipe(
    Effect.flatMap((lines) => Effect.forEach(lines, (line) => Console.log(line), { discard: true })),
    Effect.withSpan("Cli.run", { attributes: { command: command._tag } })
  )
