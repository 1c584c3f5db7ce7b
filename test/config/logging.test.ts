/**
 * Every log line has a message: one logged with only a cause — as `NodeRuntime.runMain` does
 * for a failure that ends the process — carries the cause's first line (issue 19 saw
 * `"message":[]` on the one ERROR line that mattered).
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, ConfigProvider, Console, Data, Effect, Layer } from "effect"
import { CliLoggingLive, LoggingLive } from "../../src/config/Logging.js"

class Boom extends Data.TaggedError("Boom")<{ readonly message: string }> {}

/** Runs `effect` with `logging`, returning what the logger wrote (stdout and stderr alike). */
const capture = <E>(logging: Layer.Layer<never, E>, effect: Effect.Effect<void>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const push = (...args: ReadonlyArray<unknown>) => void lines.push(args.map(String).join(" "))
    const current = yield* Effect.console
    const console: Console.Console = { ...current, unsafe: { ...current.unsafe, log: push, error: push } }
    yield* effect.pipe(Effect.provide(logging), Effect.withConsole(console))
    return lines
  })

const json = Layer.provide(LoggingLive, Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["LOG_FORMAT", "json"]]))))

describe("log messages", () => {
  it.effect("a line logged with only a cause gets the cause's first line as its message (json)", () =>
    Effect.gen(function*() {
      const lines = yield* capture(json, Effect.logError(Cause.fail(new Boom({ message: "embedded PostgreSQL could not start\nstack…" }))))
      const parsed = lines.map((line) => JSON.parse(line) as { message: unknown; logLevel: string })
      expect(parsed).toHaveLength(1)
      expect(parsed[0]).toMatchObject({ message: "embedded PostgreSQL could not start", logLevel: "ERROR" })
    }))

  it.effect("a defect and an empty string are summarised too; a message given is kept", () =>
    Effect.gen(function*() {
      const lines = yield* capture(
        json,
        Effect.all([
          Effect.logError(Cause.die(new Error("disk on fire"))),
          Effect.logWarning("", Cause.fail("plain text failure")),
          Effect.logInfo("kept as is")
        ]).pipe(Effect.asVoid)
      )
      expect(lines.map((line) => (JSON.parse(line) as { message: unknown }).message)).toEqual([
        "disk on fire",
        "plain text failure",
        "kept as is"
      ])
    }))

  it.effect("the CLI's logfmt lines on stderr too", () =>
    Effect.gen(function*() {
      const lines = yield* capture(CliLoggingLive, Effect.logError(Cause.fail(new Boom({ message: "no database" }))))
      expect(lines[0]).toMatch(/message="no database"/)
    }))
})
