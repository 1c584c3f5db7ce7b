/**
 * Partition lifecycle of the day-partitioned tables: create days ahead (and heal days whose
 * rows sit in the default partition), report rows left in the default, and drop days past
 * retention once the rollup has covered them.
 */
import { SqlClient, type SqlError } from "@effect/sql"
import { Effect, Metric } from "effect"
import * as M from "./JobMetrics.js"
import { addDays, dayStart, type JobContext, iso, utcDay } from "./JobReport.js"
import { readWatermark } from "./Rollup.js"

export interface PartitionedTable {
  readonly table: "telemetry_events" | "gateway_telemetry"
  readonly column: "event_time" | "window_start"
  readonly retentionDays: (ctx: JobContext) => number
}

export const PartitionedTables: ReadonlyArray<PartitionedTable> = [
  { table: "telemetry_events", column: "event_time", retentionDays: (ctx) => ctx.settings.retentionRawDays },
  { table: "gateway_telemetry", column: "window_start", retentionDays: (ctx) => ctx.settings.retentionTelemetryDays }
]

const listDays = (table: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ day: string; name: string }>`SELECT day::text AS day, name FROM list_daily_partitions(${table})`)

/** Rows in the default partition, per UTC day (should be none). */
const defaultRows = (t: PartitionedTable) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ day: string; n: number }>`
      SELECT (${sql(t.column)} AT TIME ZONE 'UTC')::date::text AS day, count(*)::int AS n
        FROM ${sql(`${t.table}_default`)} GROUP BY 1 ORDER BY 1`)

const partitionsOf = (ctx: JobContext, t: PartitionedTable) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const today = utcDay(ctx.now)
    const last = addDays(today, ctx.settings.partitionsAheadDays)
    const existing = new Set((yield* listDays(t.table)).map((row) => row.day))
    const ahead: Array<string> = []
    for (let day = today; day <= last; day = addDays(day, 1)) if (!existing.has(day)) ahead.push(day)
    // Rows parked in the default for a day we would keep anyway: creating that day moves them.
    const oldestKept = addDays(today, -t.retentionDays(ctx))
    const healable = (yield* defaultRows(t)).filter((row) =>
      row.day >= oldestKept && row.day <= last && !existing.has(row.day) && !ahead.includes(row.day)
    )
    if (ctx.dryRun) {
      yield* ctx.step(`would create ${t.table} partitions ${ahead.join(", ") || "(none missing)"}`,
        Effect.succeed(ahead.length), "partition")
      for (const row of healable) {
        yield* ctx.step(`would create ${t.table} partition ${row.day}, moving its rows out of the default`,
          Effect.succeed(row.n))
      }
    } else {
      const created = yield* ctx.step(
        `created ${t.table} partitions ${today} to ${last}${ahead.length === 0 ? " (all existed)" : ""}`,
        Effect.map(
          sql<{ n: number }>`SELECT ensure_daily_partitions(${t.table}, ${today}::date, ${last}::date) AS n`,
          (rows) => rows[0]?.n ?? 0
        ),
        "partition"
      )
      for (const row of healable) {
        yield* ctx.step(`created ${t.table} partition ${row.day}, moved its rows out of the default`,
          Effect.as(sql`SELECT create_daily_partition(${t.table}, ${row.day}::date)`, row.n))
      }
      yield* Metric.incrementBy(Metric.tagged(M.partitionsCreatedTotal, "table", t.table), created + healable.length)
    }
    const left = ctx.dryRun
      ? (yield* defaultRows(t)).filter((row) => !healable.some((h) => h.day === row.day))
      : yield* defaultRows(t)
    const rows = left.reduce((sum, row) => sum + row.n, 0)
    if (!ctx.dryRun) yield* Metric.set(Metric.tagged(M.defaultPartitionRows, "table", t.table), rows)
    if (rows > 0) {
      yield* ctx.note(
        `${rows} row(s) in ${t.table}_default, outside every daily partition (days ${left[0]?.day} to ` +
          `${left[left.length - 1]?.day}); they move when their day's partition is created`,
        { warn: true }
      )
    }
  })

export const runPartitions = (ctx: JobContext) =>
  Effect.forEach(PartitionedTables, (t) => partitionsOf(ctx, t), { discard: true }).pipe(
    Effect.withSpan("Jobs.partitions")
  )

const isLockTimeout = (error: SqlError.SqlError): boolean => {
  const cause: unknown = error.cause
  return typeof cause === "object" && cause !== null && "code" in cause && cause.code === "55P03"
}

/** Row count for the log: the planner's estimate when it has one (an exact count can take minutes). */
const rowsOf = (name: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.flatMap(
      sql<{ n: number }>`SELECT reltuples::float8 AS n FROM pg_class WHERE oid = to_regclass(${name})`,
      (rows) =>
        (rows[0]?.n ?? -1) >= 0
          ? Effect.succeed(rows[0]?.n ?? 0)
          : Effect.map(sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql(name)}`, (exact) => exact[0]?.n ?? 0)
    ))

const retentionOf = (ctx: JobContext, t: PartitionedTable, watermark: Date | null) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const oldestKept = addDays(utcDay(ctx.now), -t.retentionDays(ctx))
    const expired = (yield* listDays(t.table)).filter((row) => row.day < oldestKept)
    let waiting = 0
    for (const { day, name } of expired) {
      const end = dayStart(addDays(day, 1))
      if (watermark === null || watermark < end) {
        waiting++
        yield* ctx.note(
          `kept ${name} past retention: ${
            watermark === null ? "the rollup has not run yet" : `the rollup watermark ${iso(watermark)} has not passed ${iso(end)}`
          }`,
          { warn: true }
        )
        continue
      }
      const [pending] = yield* sql<{ n: number }>`
        SELECT (SELECT count(*) FROM rollup_dirty WHERE hour >= ${dayStart(day)} AND hour < ${end})::int
             + (SELECT count(*) FROM rollup_claimed WHERE hour >= ${dayStart(day)} AND hour < ${end})::int AS n`
      if ((pending?.n ?? 0) > 0) {
        waiting++
        yield* ctx.note(`kept ${name} past retention: ${pending?.n} bucket(s) of that day wait for recomputation`, {
          warn: true
        })
        continue
      }
      const rows = yield* rowsOf(name)
      if (ctx.dryRun) {
        yield* ctx.step(`would drop ${name}`, Effect.succeed(rows))
        continue
      }
      const dropped = sql.withTransaction(
        Effect.zipRight(
          sql`SET LOCAL lock_timeout = '5s'`,
          sql<{ dropped: boolean }>`SELECT drop_daily_partition(${t.table}, ${day}::date) AS dropped`
        )
      )
      yield* ctx.step(`dropped ${name}`, Effect.as(dropped, rows)).pipe(
        Effect.zipRight(Metric.increment(Metric.tagged(M.partitionsDroppedTotal, "table", t.table))),
        Effect.catchIf(isLockTimeout, () =>
          ctx.note(`kept ${name}: its table stayed busy for 5 s (lock timeout); retried next run`, { warn: true }))
      )
    }
    if (!ctx.dryRun) yield* Metric.set(Metric.tagged(M.retentionWaitingPartitions, "table", t.table), waiting)
    if (expired.length === 0) yield* ctx.note(`${t.table}: nothing older than ${oldestKept}`)
  })

export const runRetention = (ctx: JobContext) =>
  Effect.gen(function*() {
    const watermark = yield* readWatermark
    yield* Effect.forEach(PartitionedTables, (t) => retentionOf(ctx, t, watermark), { discard: true })
  }).pipe(Effect.withSpan("Jobs.retention"))
