/**
 * Runs the CLI as a user would, capturing what it prints: a `Console` that records
 * `Console.log` lines, settings pointing DATA_DIR at a temporary directory, and an explicit
 * environment (so a JWT_SECRET in the developer's shell never changes the outcome).
 */
import { Command as Cli, HelpDoc, ValidationError } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { ConfigProvider, Console, Context, Duration, Effect, Layer } from "effect"
import { type AppSettings, AppSettingsService } from "../../src/config/AppConfig.js"
import { adminArgv, adminCommand, CLI_APP, runAdmin } from "../../src/admin/Cli.js"

/** What a `ValidationError` says (the paragraph `@effect/cli` prints), as plain text. */
export const usageMessage = (error: ValidationError.ValidationError): string =>
  HelpDoc.toAnsiText(error.error).replace(/\u001b\[[0-9;]*m/g, "").trim()

/** A command line `@effect/cli` refused, with what it printed about it. */
export interface UsageError {
  readonly _tag: "ValidationError"
  readonly message: string
}

export const captureConsole = (lines: Array<string>): Console.Console => {
  const record = (...args: ReadonlyArray<unknown>): void => {
    lines.push(args.map(String).join(" "))
  }
  const ignore = (): void => undefined
  const unsafe: Console.UnsafeConsole = {
    assert: ignore, clear: ignore, count: ignore, countReset: ignore, debug: record, dir: record, dirxml: record,
    error: record, group: ignore, groupCollapsed: ignore, groupEnd: ignore, info: record, log: record, table: record,
    time: ignore, timeEnd: ignore, timeLog: ignore, trace: record, warn: record
  }
  const lift = (f: (...args: ReadonlyArray<unknown>) => void) => (...args: ReadonlyArray<unknown>) => Effect.sync(() => f(...args))
  return {
    [Console.TypeId]: Console.TypeId,
    assert: (_condition, ...args) => Effect.sync(() => record(...args)),
    clear: Effect.void,
    count: lift(ignore),
    countReset: lift(ignore),
    debug: lift(record),
    dir: lift(record),
    dirxml: lift(record),
    error: lift(record),
    group: () => Effect.void,
    groupEnd: Effect.void,
    info: lift(record),
    log: lift(record),
    table: lift(record),
    time: lift(ignore),
    timeEnd: lift(ignore),
    timeLog: lift(ignore),
    trace: lift(record),
    warn: lift(record),
    unsafe
  }
}

/** Where the CLI under test keeps its files (the development JWT secret). */
export class TestDataDir extends Context.Tag("Test/DataDir")<TestDataDir, string>() {}

export const TestDataDirLive = Layer.scoped(
  TestDataDir,
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "machpay-admin-" }))
)

export const settingsFor = (dataDir: string): AppSettings => ({
  host: "127.0.0.1",
  port: 8080,
  roles: new Set(["receiver", "api", "worker"]),
  dataDir,
  version: "test",
  requestTimeout: Duration.seconds(60)
})

export interface CliRun {
  readonly env?: Record<string, string>
  readonly dataDir?: string
}

/**
 * Runs `argv` through the `cli` command tree as `main.ts` does (without the migrations and
 * `jobs run`); succeeds with the printed lines or fails with the `CliError`, or with what
 * `@effect/cli` said about a command line it refused.
 */
export const cli = (argv: ReadonlyArray<string>, options: CliRun = {}) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const dataDir = options.dataDir ?? (yield* TestDataDir)
    const tree = adminCommand((command) =>
      command._tag === "JobRun" ? Effect.dieMessage("jobs run is not run by these tests") : runAdmin(command)
    )
    yield* Effect.flatMap(adminArgv(argv), (args) => Cli.run(tree, CLI_APP)(["node", "cli", ...args])).pipe(
      Effect.catchIf(ValidationError.isValidationError, (error): Effect.Effect<never, UsageError> =>
        Effect.fail({ _tag: "ValidationError", message: usageMessage(error) })),
      Effect.provide(NodeContext.layer),
      Effect.withConsole(captureConsole(lines)),
      Effect.provideService(AppSettingsService, settingsFor(dataDir)),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(options.env ?? {}))))
    )
    return lines
  })

/** The line after `label` (for values printed as `label: value`). */
export const valueOf = (lines: ReadonlyArray<string>, label: string): string => {
  const line = lines.find((l) => l.startsWith(`${label}:`))
  if (line === undefined) throw new Error(`no "${label}:" line in:\n${lines.join("\n")}`)
  return line.slice(label.length + 1).trim()
}
