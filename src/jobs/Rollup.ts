/**
 * The hourly rollup. Every hour before the watermark (`rollup_state`, job
 * `gateway_stats_hourly`) is rolled up; late data below it is recomputed from its dirty marks,
 * newest first; the watermark then advances to the current hour in bounded chunks, which
 * is how a fresh database, a worker that was down and a reset watermark are caught up.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Metric, Schedule } from "effect"
import * as M from "./JobMetrics.js"
import { type JobContext, JobError, hourFloor, iso } from "./JobReport.js"
import { daysOfBuckets, rebuildConsoleDays, unbuiltDays } from "./RollupConsole.js"
import { rebuildVendorWindow, rebuildWindowsOfBuckets, staleWindows, windowCountsBlocked, windowFor } from "./RollupConsumers.js"
import { claimMarks, recomputeBuckets, recomputeRange } from "./RollupSql.js"

export const ROLLUP_STATE_KEY = "gateway_stats_hourly"

const HOUR = 3_600_000

export const readWatermark = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ watermark: Date | null }>`
    SELECT watermark FROM rollup_state WHERE job = ${ROLLUP_STATE_KEY}`
  return rows[0]?.watermark ?? null
})

/** Start of the oldest telemetry partition: below it packets were dropped by retention. */
const telemetryFloor = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ day: string | null }>`
    SELECT min(day)::text AS day FROM list_daily_partitions('gateway_telemetry')`
  const day = rows[0]?.day
  return day ? new Date(`${day}T00:00:00Z`) : null
})

/** Where a first rollup starts: the oldest packet or payment, at most `maxDays` back. */
const initialWatermark = (target: Date, maxDays: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ first: Date | null }>`
      WITH RECURSIVE gw(gateway_id) AS (
        (SELECT gateway_id FROM payment_authorized ORDER BY gateway_id LIMIT 1)
        UNION ALL
        SELECT (SELECT pa.gateway_id FROM payment_authorized pa WHERE pa.gateway_id > gw.gateway_id
                 ORDER BY pa.gateway_id LIMIT 1)
          FROM gw WHERE gw.gateway_id IS NOT NULL)
      SELECT least(
        (SELECT min(window_start) FROM gateway_telemetry),
        (SELECT min(x.first) FROM gw CROSS JOIN LATERAL (
           SELECT min(event_time) AS first FROM payment_authorized pa WHERE pa.gateway_id = gw.gateway_id) x)
      ) AS first`
    const first = rows[0]?.first
    if (!first) return target
    const earliest = target.getTime() - maxDays * 24 * HOUR
    return new Date(Math.min(target.getTime(), Math.max(hourFloor(first).getTime(), earliest)))
  })

/**
 * Waits until every transaction that was running when marks were claimed has ended. A writer
 * whose `ON CONFLICT DO NOTHING` met a mark we then claimed wrote its rows earlier in the same
 * transaction, so it already had an xid below `xmax`; once it ends its rows are visible.
 */
const waitForWriters = (timeoutMs: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [snapshot] = yield* sql<{ xmax: string }>`SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax`
    const xmax = snapshot?.xmax ?? "0"
    yield* sql<{ done: boolean }>`SELECT pg_snapshot_xmin(pg_current_snapshot()) >= ${xmax}::xid8 AS done`.pipe(
      Effect.map((rows) => rows[0]?.done === true),
      Effect.repeat({ schedule: Schedule.spaced("25 millis"), until: (done) => done }),
      Effect.timeoutFail({
        duration: timeoutMs,
        onTimeout: () =>
          new JobError({
            message: `write transactions older than the claim did not finish within ${timeoutMs} ms; ` +
              "claimed buckets are kept for the next run"
          })
      })
    )
  })

const countBacklog = (watermark: Date | null) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ n: number }>`
      SELECT (SELECT count(*) FROM rollup_dirty WHERE hour < coalesce(${watermark}::timestamptz, 'infinity'))::int
           + (SELECT count(*) FROM rollup_claimed WHERE hour < coalesce(${watermark}::timestamptz, 'infinity'))::int AS n`
    return rows[0]?.n ?? 0
  })

const dryRun = (ctx: JobContext, watermark: Date | null, target: Date) =>
  Effect.gen(function*() {
    const dirty = yield* countBacklog(watermark)
    yield* ctx.step(`would recompute dirty buckets below the watermark ${watermark ? iso(watermark) : "(none yet)"}`,
      Effect.succeed(dirty), "bucket")
    const start = watermark ?? (yield* initialWatermark(target, ctx.settings.rollupBackfillMaxDays))
    const hours = Math.max(0, (target.getTime() - start.getTime()) / HOUR)
    const chunks = Math.ceil(hours / ctx.settings.rollupChunkHours)
    yield* ctx.note(hours === 0
      ? `watermark ${iso(start)} is current: nothing to advance`
      : `would advance the watermark from ${iso(start)} to ${iso(target)}: ${hours} hour(s) in ${chunks} transaction(s)`)
  })

/** Late data below the watermark: claim marks, wait for their writers, recompute, newest first. */
const recomputeDirty = (ctx: JobContext, watermark: Date, floor: Date | null) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const limit = ctx.settings.rollupDirtyBatch
    // Marks added after this instant wait for the next run, so the loop ends.
    const [clock] = yield* sql<{ t: Date }>`SELECT now() AS t`
    const markedBefore = clock?.t ?? ctx.now
    let total = 0
    while (true) {
      yield* claimMarks(sql, { below: watermark, markedBefore, limit })
      yield* waitForWriters(ctx.settings.rollupWriterWaitMs)
      const batch = yield* sql<{ gateway_id: string; hour: Date }>`
        SELECT gateway_id, hour FROM rollup_claimed WHERE hour < ${watermark}
         ORDER BY hour DESC, gateway_id LIMIT ${limit}`
      const newest = batch[0]
      const oldest = batch[batch.length - 1]
      if (!newest || !oldest) return total
      const gateways = batch.map((row) => row.gateway_id)
      const hours = batch.map((row) => row.hour)
      const done = yield* ctx.step(
        `recomputed ${batch.length} dirty bucket(s) from ${iso(newest.hour)} back to ${iso(oldest.hour)}`,
        sql.withTransaction(Effect.gen(function*() {
          const [result] = yield* recomputeBuckets(sql, gateways, hours, floor)
          // Same transaction as the claims' deletion: the console never sees the day unmarked and stale.
          yield* rebuildConsoleDays(sql, daysOfBuckets(gateways, hours, watermark))
          yield* rebuildWindowsOfBuckets(sql, gateways, hours, windowCountsBlocked(ctx.settings.retention.blockedDays))
          yield* sql`
            DELETE FROM rollup_claimed c USING unnest(${gateways}::text[], ${hours}::timestamptz[]) AS b(gateway_id, hour)
             WHERE c.gateway_id = b.gateway_id AND c.hour = b.hour`
          return (result?.upserted ?? 0) + (result?.deleted ?? 0)
        })),
        "bucket"
      )
      yield* Metric.incrementBy(Metric.tagged(M.rollupBucketsComputed, "kind", "dirty"), done)
      total += done
    }
  })

/** Hours from the watermark to `target`, ascending, one transaction per chunk. */
const advance = (ctx: JobContext, from: Date, target: Date, floor: Date | null) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    let watermark = from
    while (watermark < target) {
      const lo = watermark
      const hi = new Date(Math.min(target.getTime(), lo.getTime() + ctx.settings.rollupChunkHours * HOUR))
      yield* claimMarks(sql, { from: lo, to: hi })
      yield* waitForWriters(ctx.settings.rollupWriterWaitMs)
      const buckets = yield* ctx.step(
        `rolled up hours ${iso(lo)} to ${iso(hi)}`,
        sql.withTransaction(Effect.gen(function*() {
          const [result] = yield* recomputeRange(sql, lo, hi, floor)
          yield* sql`DELETE FROM rollup_claimed WHERE hour >= ${lo} AND hour < ${hi}`
          // Only after a watermark reset can hours below a built consumers window be re-rolled
          // here without its rebuild: drop such windows (the console falls back, the run rebuilds).
          yield* sql`DELETE FROM console_consumer_windows WHERE window_to > ${lo}`
          yield* sql`
            INSERT INTO rollup_state (job, watermark, updated_at) VALUES (${ROLLUP_STATE_KEY}, ${hi}, now())
            ON CONFLICT (job) DO UPDATE SET watermark = EXCLUDED.watermark, updated_at = EXCLUDED.updated_at`
          return (result?.upserted ?? 0) + (result?.deleted ?? 0)
        })),
        "bucket"
      )
      yield* Metric.incrementBy(Metric.tagged(M.rollupBucketsComputed, "kind", "advance"), buckets)
      watermark = hi
    }
    return watermark
  })

/** Console rollups of finished days not built yet (new days, and the backfill after migration 0032). */
const buildConsoleDays = (ctx: JobContext, watermark: Date) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const batch = ctx.settings.rollupDirtyBatch
    // Bounded per run, so a large backfill is spread over a few runs instead of one long one.
    for (let round = 0; round < 100; round++) {
      const days = yield* unbuiltDays(sql, watermark, ctx.settings.rollupBackfillMaxDays, batch)
      const newest = days[0]
      const oldest = days[days.length - 1]
      if (!newest || !oldest) return
      yield* ctx.step(
        `built ${days.length} console day(s) from ${iso(newest.day)} back to ${iso(oldest.day)}`,
        sql.withTransaction(rebuildConsoleDays(sql, days)),
        "row"
      )
    }
  })

/** Per-vendor consumers windows (RollupConsumers.ts) of vendors whose window is not the current one. */
const buildConsumerWindows = (ctx: JobContext, watermark: Date) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { from, to } = windowFor(watermark)
    const batch = ctx.settings.rollupDirtyBatch
    for (let round = 0; round < 100; round++) {
      const countBlocked = windowCountsBlocked(ctx.settings.retention.blockedDays)
      const vendors = yield* staleWindows(sql, from, to, batch, countBlocked)
      if (vendors.length === 0) return
      yield* ctx.step(
        `built the consumers window ${iso(from)} to ${iso(to)} of ${vendors.length} vendor(s)`,
        // One transaction per vendor: a window and its totals change together, and briefly.
        Effect.map(
          Effect.forEach(vendors, (v) => sql.withTransaction(rebuildVendorWindow(sql, v.vendor_id, from, to, countBlocked))),
          (agents) => agents.reduce((n, a) => n + a, 0)
        ),
        "row"
      )
    }
  })

export const runRollup = (ctx: JobContext) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const target = hourFloor(ctx.now)
    const stored = yield* readWatermark
    if (ctx.dryRun) return yield* dryRun(ctx, stored, target)
    const floor = yield* telemetryFloor
    if (stored) yield* recomputeDirty(ctx, stored, floor)
    const start = stored ?? (yield* initialWatermark(target, ctx.settings.rollupBackfillMaxDays))
    if (!stored) {
      yield* ctx.note(`first rollup: starting at ${iso(start)}`)
      yield* sql`
        INSERT INTO rollup_state (job, watermark) VALUES (${ROLLUP_STATE_KEY}, ${start})
        ON CONFLICT (job) DO UPDATE SET watermark = EXCLUDED.watermark, updated_at = now()`
      // Late data older than the first payment or packet (a blocked request, say) left marks
      // below the initial watermark that advancing never reaches: fold them in now.
      yield* recomputeDirty(ctx, start, floor)
    }
    const watermark = start < target ? yield* advance(ctx, start, target, floor) : start
    if (start >= target) yield* ctx.note(`watermark ${iso(start)} is current`)
    yield* buildConsoleDays(ctx, watermark)
    yield* buildConsumerWindows(ctx, watermark)
    const backlog = yield* countBacklog(watermark)
    yield* Metric.set(M.rollupBacklogBuckets, backlog)
    yield* Metric.set(M.rollupWatermarkSeconds, watermark.getTime() / 1000)
    yield* Metric.set(M.rollupWatermarkLagSeconds, Math.max(0, (ctx.now.getTime() - watermark.getTime()) / 1000))
  }).pipe(Effect.withSpan("Jobs.rollup"))
