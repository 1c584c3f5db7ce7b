/**
 * Entity administration from the command line (`npm run cli -- help`): vendors, gateways
 * and their ingest keys, agents, development console tokens. `runCli` parses, runs the
 * command against the database and prints to stdout through Effect's `Console`; every
 * failure a user can cause is a `CliError` (one line + usage hint, exit status 2).
 */
import type { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import type { SqlClient } from "@effect/sql"
import { ConfigError, Console, Effect, type Layer } from "effect"
import { type AppSettingsService, describeConfigError } from "../config/AppConfig.js"
import type { EntityExists, EntityNotFound } from "./AdminRepo.js"
import { CliError } from "./CliError.js"
import { helpText, parseCommand } from "./CliParse.js"
import { Command } from "./Command.js"
import { agentCreate, agentList, vendorCreate, vendorList } from "./commands/entities.js"
import { listHint, type Output } from "./commands/format.js"
import { gatewayCreate, gatewayList, gatewayRotateKey, gatewaySetDisabled } from "./commands/gateway.js"
import { tokenMint } from "./commands/token.js"
import { DEV_SECRET_FILE, type JwtSecretError, MIN_SECRET_LENGTH } from "../auth/JwtSecret.js"

export { CliError, formatCliError, HELP_HINT } from "./CliError.js"
export { Command } from "./Command.js"
export { helpText, parseCommand } from "./CliParse.js"

/** What `runCli` needs besides the ones `main.ts` already has (database, `AppSettingsService`). */
export const AdminCliLive: Layer.Layer<FileSystem.FileSystem> = NodeFileSystem.layer

export type CliRequirements = SqlClient.SqlClient | AppSettingsService | FileSystem.FileSystem

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
export const execute = (command: Command): Effect.Effect<Output, CliError, CliRequirements> =>
  Command.$match(command, {
    Help: ({ topic }): Effect.Effect<Output, Failure, CliRequirements> => Effect.succeed(helpText(topic).split("\n")),
    VendorCreate: vendorCreate,
    VendorList: vendorList,
    GatewayCreate: gatewayCreate,
    GatewayRotateKey: gatewayRotateKey,
    GatewayList: gatewayList,
    GatewayDisable: gatewaySetDisabled(true),
    GatewayEnable: gatewaySetDisabled(false),
    AgentCreate: agentCreate,
    AgentList: agentList,
    TokenMint: tokenMint
  }).pipe(Effect.mapError(toCliError))

/** `npm run cli -- <argv…>`: parse, run, print. */
export const runCli = (argv: ReadonlyArray<string>): Effect.Effect<void, CliError, CliRequirements> =>
  Effect.gen(function*() {
    const command = yield* parseCommand(argv)
    const lines = yield* execute(command)
    yield* Effect.forEach(lines, (line) => Console.log(line), { discard: true })
  }).pipe(Effect.withSpan("Cli.run"))
