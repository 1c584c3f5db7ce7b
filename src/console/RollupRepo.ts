/**
 * Where the payment figures of a vendor aggregate come from, decided inside the statement
 * that computes them (one snapshot, so a rollup job committing meanwhile cannot make a day
 * count twice or not at all):
 *
 * - a **clean** (gateway, UTC day) is read from the console rollups (migration 0022): the job
 *   has built it (`console_rollup_days`), the whole day lies before the hourly rollup's
 *   watermark, and no hour of it carries a dirty mark (`rollup_dirty`, written by ingest in
 *   the statement that stores a late payment) or a claimed one (`rollup_claimed`, taken by a
 *   job that has not committed yet);
 * - everything else of the range — today, partial days, days not built yet, days with late
 *   payments the job has not re-rolled — is read from `payment_authorized` itself.
 *
 * The job (src/jobs/RollupConsole.ts) rebuilds a day in the transaction that deletes its
 * marks, so at every moment a day is either clean and exact, or read raw. Requests never
 * write.
 */
import type { SqlClient, Statement } from "@effect/sql"
import { Effect } from "effect"
import type { Range } from "./Params.js"
import { type VendorScope, vendorGateways } from "./Scope.js"

/**
 * CTEs `g` (the scope's gateways), `clean` (gateway_id, day: read from the rollups) and
 * `raw_ranges` (gateway_id, lo, hi: read from the payments), for `WITH …`.
 */
export const paymentSources = (sql: SqlClient.SqlClient, scope: VendorScope, range: Range): Statement.Fragment =>
  sql`
  g AS MATERIALIZED (SELECT g.id FROM gateways g WHERE ${vendorGateways(sql, scope)}),
  clean AS MATERIALIZED (
    SELECT s.gateway_id, s.day
      FROM g JOIN console_rollup_days s ON s.gateway_id = g.id
       AND s.day >= ${range.from}::timestamptz AND s.day + interval '24 hours' <= ${range.to}::timestamptz
       AND s.day + interval '24 hours' <= coalesce(
             (SELECT watermark FROM rollup_state WHERE job = 'gateway_stats_hourly'), '-infinity'::timestamptz)
     WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty m
                        WHERE m.gateway_id = s.gateway_id AND m.hour >= s.day AND m.hour < s.day + interval '24 hours')
       AND NOT EXISTS (SELECT 1 FROM rollup_claimed m
                        WHERE m.gateway_id = s.gateway_id AND m.hour >= s.day AND m.hour < s.day + interval '24 hours')),
  raw_ranges AS MATERIALIZED (
    SELECT g.id AS gateway_id, greatest(d.day, ${range.from}::timestamptz) AS lo,
           least(d.day + interval '24 hours', ${range.to}::timestamptz) AS hi
      FROM g
     CROSS JOIN generate_series(date_trunc('day', ${range.from}::timestamptz, 'UTC'),
                                ${range.to}::timestamptz - interval '1 microsecond', interval '24 hours') AS d(day)
     WHERE NOT EXISTS (SELECT 1 FROM clean c WHERE c.gateway_id = g.id AND c.day = d.day))`

/**
 * Runs a statement built on `paymentSources` without JIT, in one REPEATABLE READ snapshot (so
 * a window check and the read that trusts it see the same commits). The planner cannot know
 * how few days are raw (`raw_ranges` is estimated at thousands of ranges of ~1,000 payments
 * each), so its cost passes `jit_above_cost` and PostgreSQL spends ~300 ms compiling a query
 * that runs in a few milliseconds (measured on the 1M seed: stats 338 ms → see docs/console-api.md).
 */
export const withoutJit = <A, E, R>(sql: SqlClient.SqlClient, statement: Effect.Effect<A, E, R>) =>
  sql.withTransaction(
    Effect.zipRight(sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`,
      Effect.zipRight(sql`SET LOCAL jit = off`, statement))
  )

/** A clean consumers window (migration 0033) covering the start of a request's range. */
export interface ConsumerWindow {
  readonly vendorId: string
  /** End of the window: the request reads its payments from here to `range.to` raw. */
  readonly to: Date
}

/**
 * The vendor's per-agent window (src/jobs/RollupConsumers.ts) when a request may use it: the
 * range starts where the window starts and ends on the day after it, the scope is the whole
 * vendor, the window was built for the vendor's current gateways, lies before the watermark,
 * and no hour of it carries a dirty or claimed mark (late payments the job has not folded in).
 * Otherwise `undefined`: read the daily rollups and the payments (`paymentSources`). Run it in
 * the statement's snapshot (`withoutJit`).
 */
export const consumerWindow = (sql: SqlClient.SqlClient, scope: VendorScope, range: Range) =>
  scope.gatewayId !== undefined
    ? Effect.succeed(undefined)
    : Effect.map(
      sql<{ window_to: Date }>`
        SELECT w.window_to FROM console_consumer_windows w
         WHERE w.vendor_id = ${scope.vendorId}
           AND w.window_from = ${range.from}::timestamptz AND w.window_to <= ${range.to}::timestamptz
           -- The range ends on the window's next day: no day after the window can be clean, so
           -- the statement's raw ranges hold every payment since the window's end (stats).
           AND ${range.to}::timestamptz < w.window_to + interval '24 hours'
           AND w.window_to <= coalesce(
                 (SELECT watermark FROM rollup_state WHERE job = 'gateway_stats_hourly'), '-infinity'::timestamptz)
           AND w.revenue_assets IS NOT NULL
           AND w.gateways = ARRAY(SELECT g.id FROM gateways g WHERE g.vendor_id = ${scope.vendorId} ORDER BY g.id COLLATE "C")
           AND NOT EXISTS (SELECT 1 FROM rollup_dirty m
                            WHERE m.gateway_id = ANY (w.gateways) AND m.hour >= w.window_from AND m.hour < w.window_to)
           AND NOT EXISTS (SELECT 1 FROM rollup_claimed m
                            WHERE m.gateway_id = ANY (w.gateways) AND m.hour >= w.window_from AND m.hour < w.window_to)`,
      (rows): ConsumerWindow | undefined => {
        const row = rows[0]
        return row === undefined ? undefined : { vendorId: scope.vendorId, to: row.window_to }
      }
    )
