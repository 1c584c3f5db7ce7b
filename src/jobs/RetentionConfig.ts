/**
 * How long each non-partitioned table keeps its rows (the day-partitioned tables keep their
 * `RETENTION_RAW_DAYS` / `RETENTION_TELEMETRY_DAYS` in JobsConfig). Every variable is listed,
 * with the reason for its default, in docs/retention.md.
 */
import { Config, ConfigError, Either, Option } from "effect"
import { positiveInt } from "../config/AppConfig.js"

/** `Option.none()` = kept forever. */
export type Days = Option.Option<number>

export interface RetentionSettings {
  /** `payment_authorized` and `payment_intents_archive`: financial records. */
  readonly paymentsDays: Days
  /** `gateway_stats_hourly` and the console's rollup tables (derived from payments). */
  readonly rollupsDays: Days
  readonly blockedDays: Days
  readonly alertsDays: Days
  /** `gateway_config_history`; each gateway's newest revision is always kept. */
  readonly configHistoryDays: Days
  readonly deadLettersDays: Days
  /** Stored size (row bytes after compression) of `dead_letters`; the oldest go first beyond it. */
  readonly deadLettersMaxBytes: number
  readonly jobRunsDays: Days
  /** Rows deleted per statement (each its own short transaction). */
  readonly batchSize: number
}

export const defaultRetentionSettings: RetentionSettings = {
  paymentsDays: Option.some(2557),
  rollupsDays: Option.some(2557),
  blockedDays: Option.some(90),
  alertsDays: Option.some(365),
  configHistoryDays: Option.some(365),
  deadLettersDays: Option.some(30),
  deadLettersMaxBytes: 256 * 1024 * 1024,
  jobRunsDays: Option.some(90),
  batchSize: 5000
}

/** A whole number of days ≥ 1, or `forever`. */
export const daysConfig = (name: string, fallback: Days): Config.Config<Days> =>
  Config.string(name).pipe(
    Config.withDefault(Option.match(fallback, { onNone: () => "forever", onSome: String })),
    Config.mapOrFail((raw) => {
      const text = raw.trim().toLowerCase()
      if (text === "forever") return Either.right(Option.none())
      const n = Number(text)
      return /^\d+$/.test(text) && n >= 1 && Number.isSafeInteger(n)
        ? Either.right(Option.some(n))
        : Either.left(ConfigError.InvalidData([name], `must be a whole number of days (≥ 1) or "forever", got "${raw}"`))
    })
  )

const d = defaultRetentionSettings

export const RetentionSettingsConfig: Config.Config<RetentionSettings> = Config.all({
  paymentsDays: daysConfig("RETENTION_PAYMENTS_DAYS", d.paymentsDays),
  rollupsDays: daysConfig("RETENTION_ROLLUPS_DAYS", d.rollupsDays),
  blockedDays: daysConfig("RETENTION_BLOCKED_DAYS", d.blockedDays),
  alertsDays: daysConfig("RETENTION_ALERTS_DAYS", d.alertsDays),
  configHistoryDays: daysConfig("RETENTION_CONFIG_HISTORY_DAYS", d.configHistoryDays),
  deadLettersDays: daysConfig("RETENTION_DEAD_LETTERS_DAYS", d.deadLettersDays),
  deadLettersMaxBytes: positiveInt("RETENTION_DEAD_LETTERS_MAX_BYTES", d.deadLettersMaxBytes),
  jobRunsDays: daysConfig("RETENTION_JOB_RUNS_DAYS", d.jobRunsDays),
  batchSize: positiveInt("RETENTION_BATCH_SIZE", d.batchSize)
})
