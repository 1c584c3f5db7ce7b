/**
 * What a job run did, step by step: logged as it happens, stored in `job_runs.details`, and
 * printed by `jobs run <name>`.
 */
import { Clock, Data, Effect, Ref } from "effect"
import type { JobName, JobsSettings } from "./JobsConfig.js"

export class JobError extends Data.TaggedError("JobError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export interface JobAction {
  readonly what: string
  /** How many `unit`s the step touched (rows, buckets, partitions, intents); absent for notes. */
  readonly rows?: number
  readonly unit?: string
  readonly durationMs?: number
}

export type JobStatus = "ok" | "failed" | "skipped"

export interface JobReport {
  readonly job: JobName
  readonly status: JobStatus
  readonly dryRun: boolean
  /** The job's notion of "now" (UTC), from `Clock` unless given. */
  readonly now: Date
  readonly durationMs: number
  readonly actions: ReadonlyArray<JobAction>
  readonly error?: string
  /** Multi-line, human-readable; what the CLI prints. */
  readonly summary: string
}

export interface JobContext {
  readonly job: JobName
  readonly now: Date
  readonly dryRun: boolean
  readonly settings: JobsSettings
  /** Runs a step, then logs it (what, how many, duration) and adds it to the report. */
  readonly step: <E, R>(what: string, effect: Effect.Effect<number, E, R>, unit?: Unit) => Effect.Effect<number, E, R>
  /** Records something the job decided not to do, and why (logged as a warning when `warn`). */
  readonly note: (what: string, options?: { readonly warn?: boolean }) => Effect.Effect<void>
}

export type Unit = "row" | "bucket" | "partition" | "intent"

export const makeJobContext = (job: JobName, now: Date, dryRun: boolean, settings: JobsSettings) =>
  Effect.map(Ref.make<ReadonlyArray<JobAction>>([]), (actions) => {
    const add = (action: JobAction) => Ref.update(actions, (list) => [...list, action])
    const context: JobContext = {
      job,
      now,
      dryRun,
      settings,
      step: (what, effect, unit = "row") =>
        Effect.gen(function*() {
          const start = yield* Clock.currentTimeMillis
          const rows = yield* effect
          const durationMs = (yield* Clock.currentTimeMillis) - start
          yield* add({ what, rows, unit, durationMs })
          yield* Effect.logInfo(what).pipe(Effect.annotateLogs({ job, [`${unit}s`]: rows, durationMs, dryRun }))
          return rows
        }),
      note: (what, options) =>
        Effect.zipRight(
          add({ what }),
          (options?.warn ? Effect.logWarning(what) : Effect.logInfo(what)).pipe(Effect.annotateLogs({ job, dryRun }))
        )
    }
    return { context, actions: Ref.get(actions) }
  })

export const formatReport = (report: Omit<JobReport, "summary">): string => {
  const head = `${report.job}${report.dryRun ? " (dry run)" : ""}: ` + (report.status === "skipped"
    ? "skipped: held by another worker"
    : `${report.status} in ${report.durationMs} ms${report.error === undefined ? "" : ` — ${report.error}`}`)
  const lines = report.actions.map((action) => {
    const figures = [
      action.rows === undefined ? undefined : `${action.rows} ${action.unit ?? "row"}(s)`,
      action.durationMs === undefined ? undefined : `${action.durationMs} ms`
    ].filter((part) => part !== undefined)
    return `  - ${action.what}${figures.length > 0 ? ` (${figures.join(", ")})` : ""}`
  })
  return [head, ...lines].join("\n")
}

export const utcDay = (date: Date): string => date.toISOString().slice(0, 10)

export const addDays = (day: string, n: number): string =>
  utcDay(new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000))

export const dayStart = (day: string): Date => new Date(`${day}T00:00:00Z`)

export const hourFloor = (date: Date): Date => new Date(Math.floor(date.getTime() / 3_600_000) * 3_600_000)

export const iso = (date: Date): string => date.toISOString().replace(":00.000Z", "Z")
