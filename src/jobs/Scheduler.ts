/**
 * Background work as a layer: one fiber per job in the layer's scope, each running its job on
 * start when asked (catch-up) and then on its UTC cron. Interrupted with the layer on shutdown.
 * Several processes may run this; the runner's advisory lock lets one of them do each run.
 */
import { Effect, Layer, Option, Ref, Schedule } from "effect"
import type { ComponentStatus } from "../../schema/api/Health.js"
import { DatabaseStatus } from "../db/Database.js"
import { HealthChecks } from "../health/HealthChecks.js"
import { JobRunner, JobRunnerLive } from "./Jobs.js"
import type { JobReport } from "./JobReport.js"
import { type JobName, JobNames, JobsSettingsConfig } from "./JobsConfig.js"

export const JobsSchedulerLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const settings = yield* JobsSettingsConfig
    const runner = yield* JobRunner
    const database = yield* Effect.serviceOption(DatabaseStatus)
    const health = yield* Effect.serviceOption(HealthChecks)
    const last = yield* Ref.make(new Map<JobName, JobReport>())

    const runScheduled = (job: JobName) =>
      runner.run(job).pipe(
        Effect.tap((report) => Ref.update(last, (map) => new Map(map).set(job, report))),
        Effect.catchAllCause((cause) => Effect.logError("scheduled job crashed", cause).pipe(Effect.annotateLogs({ job })))
      )

    for (const job of JobNames) {
      const { cron, onStart } = settings.schedules[job]
      const loop = Effect.gen(function*() {
        // Jobs need the schema; the server process migrates in the background.
        if (Option.isSome(database)) yield* database.value.ready
        if (onStart) yield* runScheduled(job)
        yield* Effect.schedule(runScheduled(job), Schedule.cron(cron, "UTC"))
      })
      yield* Effect.forkScoped(loop.pipe(Effect.annotateLogs({ job })))
    }

    if (Option.isSome(health)) {
      yield* health.value.register(
        "jobs",
        Effect.map(Ref.get(last), (map): typeof ComponentStatus.Type => {
          const failed = [...map.values()].filter((report) => report.status === "failed")
          return failed.length === 0
            ? { status: "ok" }
            : { status: "degraded", reason: failed.map((r) => `${r.job}: ${r.error ?? "failed"}`).join("; ") }
        })
      )
    }
    yield* Effect.logInfo("jobs scheduled").pipe(
      Effect.annotateLogs(Object.fromEntries(JobNames.map((job) => [job, settings.schedules[job].cron])))
    )
  })
)

/** The worker role: scheduler + live runner (needs `SqlClient` and `PgPool`). */
export const JobsLive = JobsSchedulerLive.pipe(Layer.provide(JobRunnerLive))
