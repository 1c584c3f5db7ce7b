/**
 * Row retention of the tables that are not day-partitioned (those drop whole partitions, see
 * Partitions.ts). Rows go in batches of `RETENTION_BATCH_SIZE`, each batch its own short
 * transaction: a plain DELETE takes only ROW EXCLUSIVE on the table (ingest's inserts go on)
 * and row locks on rows nobody else wants; rows some other transaction holds are skipped
 * (`SKIP LOCKED`) and go next run. The policy of every table is in docs/retention.md.
 */
import { SqlClient, type SqlError, type Statement } from "@effect/sql"
import { Clock, Effect, Metric, Option } from "effect"
import * as M from "./JobMetrics.js"
import { addDays, dayStart, type JobContext, utcDay } from "./JobReport.js"
import type { Days, RetentionSettings } from "./RetentionConfig.js"

export interface RowPolicy {
  readonly table: string
  /** A row goes when this column is before the cutoff (start of UTC day today − N). */
  readonly column: string
  readonly days: (settings: RetentionSettings) => Days
  /** A further condition on `t` the row must meet to go (static SQL). */
  readonly onlyIf?: string
}

export const RowPolicies: ReadonlyArray<RowPolicy> = [
  { table: "payment_authorized", column: "event_time", days: (r) => r.paymentsDays },
  { table: "payment_intents_archive", column: "last_event_time", days: (r) => r.paymentsDays },
  { table: "request_blocked", column: "event_time", days: (r) => r.blockedDays },
  { table: "solvency_alerts", column: "event_time", days: (r) => r.alertsDays },
  {
    table: "gateway_config_history",
    column: "received_at",
    days: (r) => r.configHistoryDays,
    // A gateway's current configuration stays explainable however old it is.
    onlyIf: "EXISTS (SELECT 1 FROM gateway_config_history n WHERE n.gateway_id = t.gateway_id AND n.received_at > t.received_at)"
  },
  { table: "gateway_stats_hourly", column: "hour", days: (r) => r.rollupsDays },
  { table: "console_rollup_days", column: "day", days: (r) => r.rollupsDays },
  { table: "console_agent_daily", column: "day", days: (r) => r.rollupsDays },
  { table: "console_revenue_hourly", column: "hour", days: (r) => r.rollupsDays },
  { table: "dead_letters", column: "received_at", days: (r) => r.deadLettersDays },
  { table: "job_runs", column: "started_at", days: (r) => r.jobRunsDays }
]

const isLockTimeout = (error: SqlError.SqlError): boolean => {
  const cause: unknown = error.cause
  return typeof cause === "object" && cause !== null && "code" in cause && cause.code === "55P03"
}

/**
 * Deletes what `where` (a condition on alias `t`) selects, one batch per transaction, until a
 * batch comes back short. A lock timeout ends the table's run with a note (retried next run).
 */
const deleteInBatches = (ctx: JobContext, table: string, where: Statement.Fragment, reason: "age" | "size") =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const size = ctx.settings.retention.batchSize
    const batch = sql.withTransaction(
      Effect.zipRight(
        sql`SET LOCAL lock_timeout = '5s'`,
        sql<{ n: number }>`
          WITH d AS (
            DELETE FROM ${sql(table)} WHERE ctid = ANY(ARRAY(
              SELECT ctid FROM ${sql(table)} t WHERE ${where} LIMIT ${size} FOR UPDATE SKIP LOCKED))
            RETURNING 1)
          SELECT count(*)::int AS n FROM d`
      )
    ).pipe(Effect.map((rows) => rows[0]?.n ?? 0))
    let total = 0
    for (;;) {
      const started = yield* Clock.currentTimeMillis
      const n = yield* batch
      const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
      yield* Metric.update(Metric.tagged(M.retentionBatchSeconds, "table", table), seconds)
      yield* Metric.incrementBy(Metric.tagged(Metric.tagged(M.retentionRowsDeletedTotal, "table", table), "reason", reason), n)
      total += n
      if (n < size) return total
    }
  }).pipe(
    Effect.catchIf(isLockTimeout, () =>
      Effect.as(ctx.note(`stopped deleting from ${table}: a batch waited 5 s for a lock; the rest goes next run`, { warn: true }), 0))
  )

const byAge = (ctx: JobContext, policy: RowPolicy, cutoff: Date) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const where = policy.onlyIf === undefined
      ? sql`t.${sql(policy.column)} < ${cutoff}`
      : sql`t.${sql(policy.column)} < ${cutoff} AND ${sql.literal(policy.onlyIf)}`
    const what = `${policy.table} rows with ${policy.column} before ${utcDay(cutoff)}`
    if (ctx.dryRun) {
      yield* ctx.step(`would delete ${what}`,
        Effect.map(sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql(policy.table)} t WHERE ${where}`, (rows) => rows[0]?.n ?? 0))
      return
    }
    yield* ctx.step(`deleted ${what}`, deleteInBatches(ctx, policy.table, where, "age"))
  })

/**
 * The most bytes each gateway may keep so that all of them fit in `cap`, filling from the
 * smallest (max-min fair): a gateway under the level keeps everything, the largest lose their
 * oldest first. Undefined when everything fits.
 */
export const fairLevel = (totals: ReadonlyArray<number>, cap: number): number | undefined => {
  if (totals.reduce((a, b) => a + b, 0) <= cap) return undefined
  const sorted = [...totals].sort((a, b) => a - b)
  let remaining = cap
  for (let i = 0; i < sorted.length; i++) {
    // Whole bytes: the level is compared with a bigint sum in SQL ('45.5' is not a bigint).
    const share = Math.floor(remaining / (sorted.length - i))
    if (sorted[i]! > share) return share
    remaining -= sorted[i]!
  }
  return Math.floor(remaining)
}

/**
 * Per gateway over the level, the id of its newest dead letter that does not fit (newest first,
 * its letters up to the level stay). Before, the cap dropped the oldest rows of all tenants:
 * one gateway sending invalid events emptied every other vendor's rejection history.
 */
const capBoundaries = (maxBytes: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const totals = yield* sql<{ bytes: number }>`
      SELECT sum(pg_column_size(d.*))::float8 AS bytes FROM dead_letters d GROUP BY gateway_id`
    const level = fairLevel(totals.map((t) => t.bytes), maxBytes)
    if (level === undefined) return []
    return yield* sql<{ gateway: string | null; id: string }>`
      SELECT gateway_id AS gateway, max(id)::text AS id FROM (
        SELECT gateway_id, id, sum(pg_column_size(d.*)) OVER (PARTITION BY gateway_id ORDER BY id DESC) AS stored
          FROM dead_letters d) x
       WHERE stored > ${level} GROUP BY gateway_id`
  })

const storedBytes = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(
    sql<{ n: number }>`SELECT coalesce(sum(pg_column_size(d.*)), 0)::float8 AS n FROM dead_letters d`,
    (rows) => rows[0]?.n ?? 0
  ))

const deadLetterCap = (ctx: JobContext) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const max = ctx.settings.retention.deadLettersMaxBytes
    const boundaries = yield* capBoundaries(max)
    if (boundaries.length > 0) {
      // One gateway at a time: `id <= …` walks the primary key, where one predicate over all of
      // them would scan the table for every batch.
      const wheres = boundaries.map((b) =>
        b.gateway === null
          ? sql`t.gateway_id IS NULL AND t.id <= ${b.id}::bigint`
          : sql`t.gateway_id = ${b.gateway} AND t.id <= ${b.id}::bigint`
      )
      const what = `dead_letters beyond ${max} stored bytes (the largest gateways' oldest first: ${boundaries.length} gateway(s))`
      const count = (where: Statement.Fragment) =>
        Effect.map(sql<{ n: number }>`SELECT count(*)::int AS n FROM dead_letters t WHERE ${where}`, (rows) => rows[0]?.n ?? 0)
      const sum = <E>(effects: ReadonlyArray<Effect.Effect<number, E, SqlClient.SqlClient>>) =>
        Effect.map(Effect.all(effects), (ns) => ns.reduce((a, b) => a + b, 0))
      yield* ctx.dryRun
        ? ctx.step(`would delete ${what}`, sum(wheres.map(count)))
        : ctx.step(`deleted ${what}`, sum(wheres.map((where) => deleteInBatches(ctx, "dead_letters", where, "size"))))
    }
    if (!ctx.dryRun) yield* Metric.set(M.deadLettersStoredBytes, yield* storedBytes)
  })

/** Every row policy, then the dead-letter size cap. */
export const runRowRetention = (ctx: JobContext) =>
  Effect.gen(function*() {
    const today = utcDay(ctx.now)
    for (const policy of RowPolicies) {
      const days = policy.days(ctx.settings.retention)
      if (Option.isNone(days)) {
        yield* ctx.note(`${policy.table}: kept forever`)
        continue
      }
      yield* byAge(ctx, policy, dayStart(addDays(today, -days.value)))
    }
    yield* deadLetterCap(ctx)
  }).pipe(Effect.withSpan("Jobs.rowRetention"))
