/**
 * The scheduler on `TestClock` with the in-memory runner: catch-up on start, UTC crons,
 * failures do not stop a schedule, it waits for the database, and reports to /health.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Context, Deferred, Effect, Exit, Layer, TestClock } from "effect"
import { DatabaseStatus } from "../../src/db/Database.js"
import { HealthChecks } from "../../src/health/HealthChecks.js"
import { JobRunnerInMemory, JobRunnerRecorder } from "../../src/jobs/Jobs.js"
import type { JobName } from "../../src/jobs/JobsConfig.js"
import { JobsSchedulerLive } from "../../src/jobs/Scheduler.js"

const config = (entries: Record<string, string> = {}) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(entries))))

/** Builds the scheduler in the test's scope (as the worker role does) at `start`. */
const startScheduler = (
  start: string,
  options: { readonly env?: Record<string, string>; readonly failing?: ReadonlyArray<JobName>; readonly extra?: Layer.Layer<never> } = {}
) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(Date.parse(start))
    const runner = JobRunnerInMemory(options.failing ? { failing: options.failing } : {})
    const context = yield* Layer.build(
      Layer.merge(JobsSchedulerLive.pipe(Layer.provide(runner)), runner).pipe(Layer.provide(config(options.env)))
    )
    return Context.get(context, JobRunnerRecorder)
  })

/** Advances the test clock to an instant, letting every fiber due by then run. */
const advanceTo = (iso: string) =>
  Effect.flatMap(TestClock.currentTimeMillis, (now) => TestClock.adjust(Date.parse(iso) - now))

const runsOf = (recorder: JobRunnerRecorder["Type"]) =>
  Effect.map(recorder.runs, (runs) => runs.map((run) => `${run.job}@${new Date(run.at).toISOString().slice(0, 19)}`))

describe("jobs scheduler", () => {
  it.scoped("catches up on start (rollup, partitions), then follows the default UTC crons", () =>
    Effect.gen(function*() {
      const recorder = yield* startScheduler("2024-03-31T22:58:00Z")
      yield* advanceTo("2024-03-31T22:58:00Z")
      expect(yield* runsOf(recorder)).toEqual(["rollup@2024-03-31T22:58:00", "partitions@2024-03-31T22:58:00"])
      yield* advanceTo("2024-04-01T00:40:00Z")
      expect(yield* runsOf(recorder)).toEqual([
        "rollup@2024-03-31T22:58:00",
        "partitions@2024-03-31T22:58:00",
        "rollup@2024-03-31T23:05:00",
        "retention@2024-03-31T23:20:00",
        "rollup@2024-04-01T00:05:00",
        "partitions@2024-04-01T00:10:00",
        "retention@2024-04-01T00:20:00",
        "archive@2024-04-01T00:30:00"
      ])
      yield* advanceTo("2024-04-02T00:00:00Z")
      const runs = yield* recorder.runs
      expect(runs.filter((run) => run.job === "rollup").length).toBe(2 + 24)
      expect(runs.filter((run) => run.job === "partitions").length).toBe(2)
      expect(runs.every((run) => !run.dryRun)).toBe(true)
    }))

  it.scoped("crons come from the environment", () =>
    Effect.gen(function*() {
      const recorder = yield* startScheduler("2024-02-29T10:01:00Z", {
        env: { ROLLUP_CRON: "*/20 * * * *", PARTITIONS_CRON: "0 */6 * * *" }
      })
      yield* advanceTo("2024-02-29T12:30:00Z")
      expect([...yield* runsOf(recorder)].sort()).toEqual([
        "partitions@2024-02-29T10:01:00",
        "partitions@2024-02-29T12:00:00",
        "rollup@2024-02-29T10:01:00",
        "rollup@2024-02-29T10:20:00",
        "rollup@2024-02-29T10:40:00",
        "rollup@2024-02-29T11:00:00",
        "rollup@2024-02-29T11:20:00",
        "rollup@2024-02-29T11:40:00",
        "rollup@2024-02-29T12:00:00",
        "rollup@2024-02-29T12:20:00",
        "retention@2024-02-29T10:20:00",
        "retention@2024-02-29T11:20:00",
        "retention@2024-02-29T12:20:00"
      ].sort())
    }))

  it.scoped("a failing job keeps its schedule", () =>
    Effect.gen(function*() {
      const recorder = yield* startScheduler("2024-01-01T00:00:00Z", { failing: ["rollup"] })
      yield* advanceTo("2024-01-01T05:59:00Z")
      const rollups = (yield* recorder.runs).filter((run) => run.job === "rollup")
      expect(rollups.length).toBe(1 + 6)
    }))

  it.effect("an invalid cron is a configuration error naming the variable's value", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(startScheduler("2024-01-01T00:00:00Z", { env: { ROLLUP_CRON: "61 * * * *" } })))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain("61 * * * *")
    }))

  it.scoped("waits for the database to be ready before the first run", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2024-01-01T00:00:00Z"))
      const ready = yield* Deferred.make<void>()
      const status = Layer.succeed(DatabaseStatus, {
        state: Effect.succeed({ _tag: "Starting" as const }),
        ready: Deferred.await(ready),
        ping: Effect.succeed(true)
      })
      const runner = JobRunnerInMemory()
      const context = yield* Layer.build(
        Layer.merge(JobsSchedulerLive.pipe(Layer.provide(runner), Layer.provide(status)), runner).pipe(
          Layer.provide(config())
        )
      )
      const recorder = Context.get(context, JobRunnerRecorder)
      yield* advanceTo("2024-01-01T00:03:00Z")
      expect(yield* recorder.runs).toEqual([])
      yield* Deferred.succeed(ready, undefined)
      yield* advanceTo("2024-01-01T00:06:00Z")
      expect(yield* runsOf(recorder)).toEqual([
        "rollup@2024-01-01T00:03:00",
        "partitions@2024-01-01T00:03:00",
        "rollup@2024-01-01T00:05:00"
      ])
    }))

  it.scoped("reports a failed job as degraded on /health", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2024-01-01T00:00:00Z"))
      const runner = JobRunnerInMemory({ failing: ["partitions"] })
      const context = yield* Layer.build(
        JobsSchedulerLive.pipe(Layer.provide(runner), Layer.provideMerge(HealthChecks.Live), Layer.provide(config()))
      )
      yield* advanceTo("2024-01-01T00:01:00Z")
      const snapshot = yield* Context.get(context, HealthChecks).snapshot
      expect(snapshot["jobs"]).toEqual({ status: "degraded", reason: "partitions: in-memory failure" })
    }))
})
