/**
 * The `cli` command tree run with a recording `run`: what a command line parses to, or what
 * `@effect/cli` (or the tree's own checks) says is wrong with it, and what it printed.
 */
import { Command as Cli, ValidationError } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Effect, Exit } from "effect"
import { adminArgv, adminCommand, CLI_APP, type Command } from "../../src/admin/Cli.js"
import { captureConsole, usageMessage } from "./support.js"

export interface Parsed {
  readonly commands: ReadonlyArray<Command>
  readonly lines: ReadonlyArray<string>
  /** The one-line complaint, when the command line was refused. */
  readonly error: { readonly message: string; readonly hint?: string } | undefined
}

export const parse = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const commands: Array<Command> = []
    const lines: Array<string> = []
    const exit = yield* Effect.flatMap(adminArgv(argv), (args) =>
      Cli.run(adminCommand((command) => Effect.sync(() => void commands.push(command))), CLI_APP)(["node", "cli", ...args])
    ).pipe(Effect.withConsole(captureConsole(lines)), Effect.provide(NodeContext.layer), Effect.exit)
    const error = Exit.match(exit, {
      onSuccess: () => undefined,
      onFailure: (cause) => {
        const failure = cause._tag === "Fail" ? cause.error : undefined
        if (failure === undefined) throw new Error(`unexpected cause: ${String(cause)}`)
        return ValidationError.isValidationError(failure)
          ? { message: usageMessage(failure) }
          : { message: failure.message, hint: failure.hint }
      }
    })
    return { commands, lines, error } satisfies Parsed
  })
