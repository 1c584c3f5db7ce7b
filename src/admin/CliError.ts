import { Data } from "effect"

export const CLI = "npm run cli --"

export const HELP_HINT = `run \`${CLI} help\` for usage`

/**
 * Everything the CLI reports to its user: a one-line `message` naming the argument or
 * entity at fault, and a `hint` (usage of the command, or what to run next). The
 * process prints `error: <message>` then the hint, and exits with status 2.
 */
export class CliError extends Data.TaggedError("CliError")<{
  readonly message: string
  readonly hint: string
}> {}

/** The text to print on stderr for `error`. */
export const formatCliError = (error: CliError): string => `error: ${error.message}\n${error.hint}`
