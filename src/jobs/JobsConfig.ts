/**
 * Settings of the scheduled jobs, read from the environment inside the jobs' layers.
 * Every variable is listed in docs/jobs.md.
 */
import { Config, ConfigError, Cron, Either, Option } from "effect"
import * as path from "node:path"
import { positiveInt } from "../config/AppConfig.js"
import { defaultRetentionSettings, type RetentionSettings, RetentionSettingsConfig } from "./RetentionConfig.js"

export const JobNames = ["rollup", "partitions", "retention", "archive"] as const
export type JobName = (typeof JobNames)[number]

export const isJobName = (value: string): value is JobName => (JobNames as ReadonlyArray<string>).includes(value)

export interface JobSchedule {
  /** Cron expression, evaluated in UTC. */
  readonly cron: string
  /** Run once as soon as the worker starts (catch up), then on the cron. */
  readonly onStart: boolean
}

export interface JobsSettings {
  readonly schedules: Readonly<Record<JobName, JobSchedule>>
  /** Hours per transaction when the rollup advances its watermark (catch-up, backfill). */
  readonly rollupChunkHours: number
  /** Dirty buckets recomputed per transaction. */
  readonly rollupDirtyBatch: number
  /** On the very first rollup, how far back to start at most. */
  readonly rollupBackfillMaxDays: number
  /** How long the rollup waits for in-flight ingest transactions before giving up for this run. */
  readonly rollupWriterWaitMs: number
  readonly partitionsAheadDays: number
  readonly retentionRawDays: number
  readonly retentionTelemetryDays: number
  /** Row retention of the other tables (RetentionConfig.ts, docs/retention.md). */
  readonly retention: RetentionSettings
  readonly archiveAfterDays: number
  readonly archiveBatchSize: number
  /** When set, each archived batch is also written there as gzip NDJSON. */
  readonly archiveDir: Option.Option<string>
}

/** The defaults, for tests and tools that build a runner by hand. */
export const defaultJobsSettings: JobsSettings = {
  schedules: {
    rollup: { cron: "5 * * * *", onStart: true },
    partitions: { cron: "10 0 * * *", onStart: true },
    // Hourly: each run deletes about an hour's worth, and the dead-letter cap holds within the hour.
    retention: { cron: "20 * * * *", onStart: false },
    archive: { cron: "30 0 * * *", onStart: false }
  },
  rollupChunkHours: 24,
  rollupDirtyBatch: 1000,
  rollupBackfillMaxDays: 400,
  rollupWriterWaitMs: 30_000,
  partitionsAheadDays: 7,
  retentionRawDays: 14,
  retentionTelemetryDays: 14,
  retention: defaultRetentionSettings,
  archiveAfterDays: 365,
  archiveBatchSize: 1000,
  archiveDir: Option.none()
}

const cronConfig = (name: string, fallback: string): Config.Config<string> =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((expression) =>
      Either.match(Cron.parse(expression, "UTC"), {
        onLeft: (error) => Either.left(ConfigError.InvalidData([name], `invalid cron expression "${expression}": ${error.message}`)),
        onRight: () => Either.right(expression)
      })
    )
  )

const d = defaultJobsSettings

export const JobsSettingsConfig: Config.Config<JobsSettings> = Config.all({
  rollupCron: cronConfig("ROLLUP_CRON", d.schedules.rollup.cron),
  partitionsCron: cronConfig("PARTITIONS_CRON", d.schedules.partitions.cron),
  retentionCron: cronConfig("RETENTION_CRON", d.schedules.retention.cron),
  archiveCron: cronConfig("ARCHIVE_CRON", d.schedules.archive.cron),
  rollupChunkHours: positiveInt("ROLLUP_CHUNK_HOURS", d.rollupChunkHours),
  rollupDirtyBatch: positiveInt("ROLLUP_DIRTY_BATCH", d.rollupDirtyBatch),
  rollupBackfillMaxDays: positiveInt("ROLLUP_BACKFILL_MAX_DAYS", d.rollupBackfillMaxDays),
  rollupWriterWaitMs: positiveInt("ROLLUP_WRITER_WAIT_MS", d.rollupWriterWaitMs),
  partitionsAheadDays: positiveInt("PARTITIONS_AHEAD_DAYS", d.partitionsAheadDays),
  retentionRawDays: positiveInt("RETENTION_RAW_DAYS", d.retentionRawDays),
  retentionTelemetryDays: positiveInt("RETENTION_TELEMETRY_DAYS", d.retentionTelemetryDays),
  retention: RetentionSettingsConfig,
  archiveAfterDays: positiveInt("ARCHIVE_INTENTS_AFTER_DAYS", d.archiveAfterDays),
  archiveBatchSize: positiveInt("ARCHIVE_BATCH_SIZE", d.archiveBatchSize),
  archiveDir: Config.string("ARCHIVE_DIR").pipe(
    Config.withDefault(""),
    Config.map((dir) => (dir.trim() === "" ? Option.none() : Option.some(path.resolve(dir))))
  )
}).pipe(
  Config.map(({ archiveCron, partitionsCron, retentionCron, rollupCron, ...rest }): JobsSettings => ({
    ...rest,
    schedules: {
      rollup: { ...d.schedules.rollup, cron: rollupCron },
      partitions: { ...d.schedules.partitions, cron: partitionsCron },
      retention: { ...d.schedules.retention, cron: retentionCron },
      archive: { ...d.schedules.archive, cron: archiveCron }
    }
  }))
)

