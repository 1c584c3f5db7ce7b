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
 * Runs a statement built on `paymentSources` without JIT. The planner cannot know how few
 * days are raw (`raw_ranges` is estimated at thousands of ranges of ~1,000 payments each), so
 * its cost passes `jit_above_cost` and PostgreSQL spends ~300 ms compiling a query that runs
 * in a few milliseconds (measured on the 1M seed: stats 338 ms → see docs/console-api.md).
 */
export const withoutJit = <A, E, R>(sql: SqlClient.SqlClient, statement: Effect.Effect<A, E, R>) =>
  sql.withTransaction(Effect.zipRight(sql`SET LOCAL jit = off`, statement))
