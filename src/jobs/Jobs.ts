/**
 * The job runner port: run one job now, under its advisory lock, recorded in `job_runs`.
 * `runJobOnce` is what the admin CLI calls (`jobs run <name> [--dry-run]`); the scheduler
 * (Scheduler.ts) calls the same runner on each job's cron.
 */
import { SqlClient, type SqlError } from "@effect/sql"
import { Cause, Clock, Context, Effect, Exit, Layer, Metric, Option, Ref } from "effect"
import { PgPool } from "../db/Database.js"
import { runArchive } from "./Archive.js"
import { withJobLock } from "./JobLock.js"
import * as M from "./JobMetrics.js"
import {
  formatReport,
  type JobAction,
  type JobContext,
  type JobError,
  type JobReport,
  type JobStatus,
  makeJobContext
} from "./JobReport.js"
import { type JobName, type JobsSettings, JobsSettingsConfig } from "./JobsConfig.js"
import { runPartitions, runRetention } from "./Partitions.js"
import { runRollup } from "./Rollup.js"
import { runRowRetention } from "./RowRetention.js"

export interface RunOptions {
  /** Say what would be done, change nothing (not even `job_runs`). */
  readonly dryRun?: boolean
  /** The job's "now"; defaults to `Clock` (tests pass explicit instants). */
  readonly now?: Date
}

export class JobRunner extends Context.Tag("Jobs/JobRunner")<JobRunner, {
  /** Never fails: a failed or skipped run is a report with that status. */
  readonly run: (job: JobName, options?: RunOptions) => Effect.Effect<JobReport>
}>() {}

/** Runs `job` once, now; the report's `summary` is printable. */
export const runJobOnce = (job: JobName, options: RunOptions = {}): Effect.Effect<JobReport, never, JobRunner> =>
  Effect.flatMap(JobRunner, (runner) => runner.run(job, options))

type JobBody = (ctx: JobContext) => Effect.Effect<void, JobError | SqlError.SqlError, SqlClient.SqlClient>

const bodies: Readonly<Record<JobName, JobBody>> = {
  rollup: runRollup,
  partitions: runPartitions,
  // Partitions first: dropping a day is cheaper than deleting its rows.
  retention: (ctx) => Effect.zipRight(runRetention(ctx), runRowRetention(ctx)),
  archive: runArchive
}

const describe = (cause: Cause.Cause<unknown>): string => {
  if (Cause.isInterruptedOnly(cause)) return "interrupted"
  const error = Cause.squash(cause)
  if (error instanceof Error) {
    const inner = error.cause instanceof Error && !error.message.includes(error.cause.message) ? `: ${error.cause.message}` : ""
    return `${error.message}${inner}`
  }
  return String(error)
}

/** Wraps a (non-dry) run in a `job_runs` row: `running` → `ok` | `failed` | `interrupted`. */
const recorded = <E, R>(
  sql: SqlClient.SqlClient,
  job: JobName,
  now: Date,
  actions: Effect.Effect<ReadonlyArray<JobAction>>,
  body: Effect.Effect<void, E, R>
) =>
  Effect.gen(function*() {
    const [row] = yield* sql<{ id: string }>`
      INSERT INTO job_runs (job, details) VALUES (${job}, ${JSON.stringify({ now })}::jsonb) RETURNING id::text AS id`
    const id = row?.id ?? "0"
    yield* body.pipe(
      Effect.onExit((exit) =>
        Effect.gen(function*() {
          const status = Exit.isSuccess(exit) ? "ok" : Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "failed"
          const details = {
            now,
            actions: yield* actions,
            ...(Exit.isFailure(exit) ? { error: describe(exit.cause) } : {})
          }
          yield* sql`
            UPDATE job_runs SET finished_at = now(), status = ${status}, details = ${JSON.stringify(details)}::jsonb
             WHERE id = ${id}::bigint`
        }).pipe(Effect.catchAllCause((cause) =>
          Effect.logWarning("could not record the job run").pipe(Effect.annotateLogs({ job, reason: describe(cause) }))
        ))
      )
    )
  })

const observe = (report: JobReport) =>
  Effect.gen(function*() {
    const seconds = (yield* Clock.currentTimeMillis) / 1000
    const tag = <T, I, O>(metric: Metric.Metric<T, I, O>) => Metric.tagged(metric, "job", report.job)
    yield* Metric.increment(Metric.tagged(tag(M.jobRunsTotal), "status", report.status))
    if (report.status === "skipped") return
    yield* Metric.set(Metric.tagged(tag(M.jobLastRunSeconds), "status", report.status), seconds)
    yield* Metric.set(tag(M.jobDurationSeconds), report.durationMs / 1000)
    if (report.status === "ok") yield* Metric.set(tag(M.jobLastSuccessSeconds), seconds)
  })

export const makeJobRunner = (settings: JobsSettings) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const pool = yield* PgPool
    const run = (job: JobName, options: RunOptions = {}): Effect.Effect<JobReport> =>
      Effect.gen(function*() {
        const dryRun = options.dryRun ?? false
        const started = yield* Clock.currentTimeMillis
        const now = options.now ?? new Date(started)
        const { actions, context } = yield* makeJobContext(job, now, dryRun, settings)
        const body = bodies[job](context).pipe(Effect.provideService(SqlClient.SqlClient, sql))
        const exit = yield* Effect.exit(withJobLock(pool, job, dryRun ? body : recorded(sql, job, now, actions, body)))
        const status: JobStatus = Exit.isFailure(exit) ? "failed" : Option.isNone(exit.value) ? "skipped" : "ok"
        const base = {
          job,
          status,
          dryRun,
          now,
          durationMs: (yield* Clock.currentTimeMillis) - started,
          actions: yield* actions,
          ...(Exit.isFailure(exit) ? { error: describe(exit.cause) } : {})
        }
        const report: JobReport = { ...base, summary: formatReport(base) }
        const log = status === "failed" ? Effect.logError : Effect.logInfo
        yield* log(`job ${status}`).pipe(
          Effect.annotateLogs({ job, dryRun, durationMs: report.durationMs, ...(base.error ? { error: base.error } : {}) })
        )
        if (!dryRun) yield* observe(report)
        return report
      }).pipe(Effect.withSpan("Jobs.run", { attributes: { job, dryRun: options.dryRun ?? false } }))
    return JobRunner.of({ run })
  })

/** Reads the jobs' settings from the environment; needs the database pool. */
export const JobRunnerLive = Layer.effect(JobRunner, Effect.flatMap(JobsSettingsConfig, makeJobRunner))

/** Records what was asked of the in-memory runner. */
export class JobRunnerRecorder extends Context.Tag("Jobs/JobRunnerRecorder")<JobRunnerRecorder, {
  readonly runs: Effect.Effect<ReadonlyArray<{ readonly job: JobName; readonly at: number; readonly dryRun: boolean }>>
}>() {}

/** A runner that does nothing but record calls (at `Clock` time); `failing` jobs report `failed`. */
export const JobRunnerInMemory = (options: { readonly failing?: ReadonlyArray<JobName> } = {}) =>
  Layer.effectContext(Effect.gen(function*() {
    const runs = yield* Ref.make<ReadonlyArray<{ job: JobName; at: number; dryRun: boolean }>>([])
    const run = (job: JobName, opts: RunOptions = {}) =>
      Effect.gen(function*() {
        const at = yield* Clock.currentTimeMillis
        const dryRun = opts.dryRun ?? false
        yield* Ref.update(runs, (list) => [...list, { job, at, dryRun }])
        const failed = options.failing?.includes(job) ?? false
        const base = {
          job,
          status: failed ? "failed" as const : "ok" as const,
          dryRun,
          now: opts.now ?? new Date(at),
          durationMs: 0,
          actions: [],
          ...(failed ? { error: "in-memory failure" } : {})
        }
        return { ...base, summary: formatReport(base) }
      })
    return Context.make(JobRunner, JobRunner.of({ run })).pipe(
      Context.add(JobRunnerRecorder, JobRunnerRecorder.of({ runs: Ref.get(runs) }))
    )
  }))
