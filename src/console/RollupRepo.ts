/**
 * The console's own rollups of payments (migration 0022), filled on demand: before a vendor
 * aggregate runs, the whole UTC days of its range that the hourly rollup job has finished
 * (before its watermark) are checked against `gateway_stats_hourly` — whose payment count and
 * amount the job keeps exact, late payments included — and any day whose stored totals differ
 * (or that was never built) is rebuilt from `payment_authorized`. The aggregate then reads
 * those days from the rollups and only the rest of the range (today, partial days, days the
 * job has not reached) from the raw payments.
 *
 * A late payment is reflected once the rollup job has re-rolled its hour (minutes); until
 * then both sources agree on the old figure.
 */
import { SqlClient, type Statement } from "@effect/sql"
import { Effect } from "effect"
import { readWatermark } from "../jobs/Rollup.js"
import { dbFailure } from "./Failures.js"
import type { Range } from "./Params.js"
import { type VendorScope, vendorGateways } from "./Scope.js"

const DAY = 86_400_000

/**
 * How a range splits: `[rolledFrom, rolledTo)` from the rollups (empty when equal), the rest
 * — `[from, rolledFrom)` and `[rolledTo, to)` — from the raw payments.
 */
export interface Split {
  readonly from: string
  readonly to: string
  readonly rolledFrom: string
  readonly rolledTo: string
}

/**
 * Gateways of the scope whose rollups over `[from, to)` may be stale: their total payment
 * count or amount differs from the hourly rollup's. Cheap (two small index scans per
 * gateway); only those gateways are then checked day by day.
 */
const suspectGateways = (sql: SqlClient.SqlClient, scope: VendorScope, from: string, to: string) =>
  sql<{ id: string }>`
    WITH g AS MATERIALIZED (SELECT g.id FROM gateways g WHERE ${vendorGateways(sql, scope)})
    SELECT g.id FROM g
      LEFT JOIN LATERAL (
        SELECT sum(h.payment_count) AS payments, sum(h.payment_amount) AS amount FROM gateway_stats_hourly h
         WHERE h.gateway_id = g.id AND h.hour >= ${from}::timestamptz AND h.hour < ${to}::timestamptz) h ON true
      LEFT JOIN LATERAL (
        SELECT sum(s.payments) AS payments, sum(s.amount) AS amount FROM console_rollup_days s
         WHERE s.gateway_id = g.id AND s.day >= ${from}::timestamptz AND s.day < ${to}::timestamptz) s ON true
     WHERE coalesce(h.payments, 0) <> coalesce(s.payments, 0) OR coalesce(h.amount, 0) <> coalesce(s.amount, 0)`

/** The stale (gateway, day) pairs of `gateways` in `[from, to)` (whole days). */
const staleDays = (sql: SqlClient.SqlClient, gateways: ReadonlyArray<string>, from: string, to: string) =>
  sql<{ gateway_id: string; day: string }>`
    WITH g AS MATERIALIZED (SELECT unnest(${gateways}::text[]) AS id),
    hourly AS (
      SELECT h.gateway_id, date_trunc('day', h.hour, 'UTC') AS day, sum(h.payment_count) AS payments,
             sum(h.payment_amount) AS amount
        FROM g JOIN gateway_stats_hourly h ON h.gateway_id = g.id
       WHERE h.hour >= ${from}::timestamptz AND h.hour < ${to}::timestamptz
       GROUP BY 1, 2)
    SELECT g.id AS gateway_id, rfc3339_utc(d.day) AS day
      FROM g
     CROSS JOIN generate_series(${from}::timestamptz, ${to}::timestamptz - interval '1 day', interval '24 hours') AS d(day)
      LEFT JOIN hourly h ON h.gateway_id = g.id AND h.day = d.day
      LEFT JOIN console_rollup_days s ON s.gateway_id = g.id AND s.day = d.day
     WHERE s.gateway_id IS NULL OR s.payments <> coalesce(h.payments, 0) OR s.amount <> coalesce(h.amount, 0)
     ORDER BY 1, 2`

/** Rebuilds the given (gateway, day) pairs from the raw payments, in one transaction. */
const rebuild = (sql: SqlClient.SqlClient, pairs: ReadonlyArray<{ readonly gateway_id: string; readonly day: string }>) => {
  const gateways = pairs.map((p) => p.gateway_id)
  const days = pairs.map((p) => p.day)
  const stale = sql`unnest(${gateways}::text[], ${days}::timestamptz[]) AS s(gateway_id, day)`
  const raw = sql`${stale}
    JOIN payment_authorized p ON p.gateway_id = s.gateway_id
     AND p.event_time >= s.day AND p.event_time < s.day + interval '24 hours'`
  return Effect.all([
    sql`DELETE FROM console_agent_daily a USING ${stale} WHERE a.gateway_id = s.gateway_id AND a.day = s.day`,
    sql`DELETE FROM console_revenue_hourly r USING ${stale}
         WHERE r.gateway_id = s.gateway_id AND r.hour >= s.day AND r.hour < s.day + interval '24 hours'`,
    sql`INSERT INTO console_agent_daily (gateway_id, day, agent_id, asset, payments, amount, first_seen, last_seen)
        SELECT s.gateway_id, s.day, p.agent_id, p.asset, count(*), sum(p.amount), min(p.event_time), max(p.event_time)
          FROM ${raw} GROUP BY 1, 2, 3, 4`,
    sql`INSERT INTO console_revenue_hourly (gateway_id, hour, asset, payments, amount)
        SELECT s.gateway_id, date_trunc('hour', p.event_time, 'UTC'), p.asset, count(*), sum(p.amount)
          FROM ${raw} GROUP BY 1, 2, 3`,
    sql`INSERT INTO console_rollup_days (gateway_id, day, payments, amount, computed_at)
        SELECT s.gateway_id, s.day, count(p.gateway_id), coalesce(sum(p.amount), 0), now()
          FROM ${stale}
          LEFT JOIN payment_authorized p ON p.gateway_id = s.gateway_id
           AND p.event_time >= s.day AND p.event_time < s.day + interval '24 hours'
         GROUP BY 1, 2
        ON CONFLICT (gateway_id, day) DO UPDATE
          SET payments = EXCLUDED.payments, amount = EXCLUDED.amount, computed_at = EXCLUDED.computed_at`
  ], { discard: true })
}

/**
 * Splits `range` for `scope` and makes sure the rolled-up part is current. Only whole UTC
 * days before the hourly rollup's watermark are rolled up.
 */
export const prepare = Effect.fn("ConsoleRollups.prepare")(function*(scope: VendorScope, range: Range) {
  const sql = yield* SqlClient.SqlClient
  const watermark = yield* readWatermark
  const first = Math.ceil(range.fromMs / DAY) * DAY
  const last = Math.min(Math.floor(range.toMs / DAY) * DAY, watermark === null ? -Infinity : Math.floor(watermark.getTime() / DAY) * DAY)
  if (last <= first) return { from: range.from, to: range.to, rolledFrom: range.from, rolledTo: range.from } satisfies Split
  const rolledFrom = new Date(first).toISOString()
  const rolledTo = new Date(last).toISOString()
  const suspects = (yield* suspectGateways(sql, scope, rolledFrom, rolledTo)).map((g) => g.id)
  if (suspects.length > 0) {
    // Concurrent requests for the same gateways: one rebuilds, the others wait and re-check.
    yield* sql.withTransaction(Effect.gen(function*() {
      yield* sql`SELECT pg_advisory_xact_lock(hashtext('console-rollup:' || id)) FROM unnest(${suspects}::text[]) AS id ORDER BY id`
      const stale = yield* staleDays(sql, suspects, rolledFrom, rolledTo)
      if (stale.length > 0) yield* rebuild(sql, stale)
    }))
  }
  return { from: range.from, to: range.to, rolledFrom, rolledTo } satisfies Split
}, dbFailure)

/** `(lo, hi)` rows of the raw parts of a split, for `CROSS JOIN LATERAL (VALUES …) r(lo, hi)`. */
export const rawRanges = (sql: SqlClient.SqlClient, split: Split): Statement.Fragment =>
  sql`(VALUES (${split.from}::timestamptz, ${split.rolledFrom}::timestamptz),
              (${split.rolledTo}::timestamptz, ${split.to}::timestamptz))`
