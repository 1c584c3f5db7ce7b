/**
 * SQL of the vendor aggregates: stats and revenue history (consumers: ConsumersRepo.ts).
 * Payments come from the console rollups for the clean days of the range and from
 * `payment_authorized` for the rest (see RollupRepo.ts), both per gateway of the caller
 * (`vendorGateways`); raw payments are read index-only through
 * `(gateway_id, event_time …) INCLUDE (agent_id, amount, asset)`.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { AssetTotal } from "../../schema/api/ConsoleCommon.js"
import type { VendorStats } from "../../schema/api/ConsoleVendor.js"
import type { Range } from "./Params.js"
import { type ConsumerWindow, consumerWindow, paymentSources, withoutJit } from "./RollupRepo.js"
import { dbFailure } from "./Failures.js"
import { money, type VendorScope, vendorGateways } from "./Scope.js"
import { telemetryParts, trafficAggregates } from "./TelemetrySql.js"

export const ownsGateway = Effect.fn("ConsoleRepo.ownsGateway")(function*(vendorId: string, gatewayId: string) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql`SELECT 1 FROM gateways WHERE id = ${gatewayId} AND vendor_id = ${vendorId}`
  return rows.length > 0
}, dbFailure)

export const stats = Effect.fn("ConsoleRepo.stats")(function*(scope: VendorScope, split: Range) {
  const sql = yield* SqlClient.SqlClient
  const [totals, traffic] = yield* Effect.all([
    // Revenue from the hourly revenue rollup, unique agents from the vendor's consumers window
    // when it is clean for this range (its agents + those paid since its end, not in it), else
    // from the daily agent rollup's ids (no sums); the rest of the range from the raw payments
    // (index-only) in both cases. The rollups are probed per clean day (LATERAL): a hash join
    // would scan the whole table.
    withoutJit(sql, Effect.flatMap(consumerWindow(sql, scope, split), (window) =>
      sql<{ revenue: ReadonlyArray<AssetTotal>; unique_agents: number; gateways: number; blocked_requests: number }>`
      WITH ${paymentSources(sql, scope, split)},
      raw AS MATERIALIZED (
        SELECT p.asset, p.agent_id COLLATE "C" AS agent_id, p.amount, p.event_time
          FROM raw_ranges r
          JOIN payment_authorized p ON p.gateway_id = r.gateway_id AND p.event_time >= r.lo AND p.event_time < r.hi)
      SELECT (SELECT coalesce(json_agg(json_build_object('asset', a.asset, 'amount', ${sql.literal(money("a.amount"))},
                                                         'payments', a.payments) ORDER BY a.asset), '[]'::json)
                FROM (SELECT x.asset, sum(x.amount) AS amount, sum(x.payments)::int AS payments
                        FROM (SELECT h.asset, h.amount, h.payments
                                FROM clean c CROSS JOIN LATERAL (
                                  SELECT h.* FROM console_revenue_hourly h WHERE h.gateway_id = c.gateway_id
                                     AND h.hour >= c.day AND h.hour < c.day + interval '24 hours') h
                              UNION ALL
                              SELECT asset, amount, 1 FROM raw) x
                       GROUP BY x.asset) a) AS revenue,
             ${uniqueAgents(sql, window)} AS unique_agents,
             (SELECT count(*)::int FROM g) AS gateways,
             (SELECT count(*)::int FROM g JOIN request_blocked p ON p.gateway_id = g.id
               WHERE p.event_time >= ${split.from}::timestamptz AND p.event_time < ${split.to}::timestamptz) AS blocked_requests`)),
    sql<{ requests: number; errors: number; latency_p99_ms: number | null }>`
      WITH ${telemetryParts(sql, scope, split.from, split.to)}
      SELECT ${sql.literal(trafficAggregates)} FROM parts x`
  ], { concurrency: "unbounded" })
  const c = totals[0] ?? { revenue: [], unique_agents: 0, gateways: 0, blocked_requests: 0 }
  const t = traffic[0] ?? { requests: 0, errors: 0, latency_p99_ms: null }
  const result: VendorStats = {
    from: split.from,
    to: split.to,
    gateways: c.gateways,
    payments: c.revenue.reduce((n, r) => n + r.payments, 0),
    revenue: c.revenue,
    unique_agents: c.unique_agents,
    blocked_requests: c.blocked_requests,
    requests: t.requests,
    errors: t.errors,
    error_rate: t.requests > 0 ? t.errors / t.requests : null,
    latency_p99_ms: t.latency_p99_ms
  }
  return result
}, dbFailure)

/**
 * Distinct agents over the range, for the `stats` statement (CTEs `clean`, `raw`): with a
 * clean consumers window, its agent count plus the agents paid since its end that it lacks;
 * without, the union of the daily rollups' agents and the raw payments' agents.
 */
const uniqueAgents = (sql: SqlClient.SqlClient, window: ConsumerWindow | undefined) =>
  window === undefined
    ? sql`(SELECT count(*)::int
             FROM (SELECT a.agent_id COLLATE "C" FROM clean c CROSS JOIN LATERAL (
                     SELECT a.agent_id FROM console_agent_daily a WHERE a.gateway_id = c.gateway_id AND a.day = c.day) a
                   UNION
                   SELECT agent_id FROM raw) d)`
    // The window's agent count is stored with it; the few agents of today are probed one by
    // one (a scalar subquery per agent: as a join the planner hashes the whole window).
    : sql`((SELECT w.agents FROM console_consumer_windows w WHERE w.vendor_id = ${window.vendorId})
           + (SELECT count(*) FROM (SELECT DISTINCT r.agent_id FROM raw r WHERE r.event_time >= ${window.to}::timestamptz) t
               WHERE NOT (SELECT EXISTS (SELECT 1 FROM console_consumer_totals w
                                          WHERE w.vendor_id = ${window.vendorId} AND w.agent_id = t.agent_id))))::int`

export const revenueHistory = Effect.fn("ConsoleRepo.revenueHistory")(function*(
  scope: VendorScope,
  split: Range,
  granularity: "day" | "hour",
  asset: string | undefined
) {
  const sql = yield* SqlClient.SqlClient
  // '24 hours', not '1 day': a day step on timestamptz follows the session time zone's DST.
  const step = granularity === "day" ? "24 hours" : "1 hour"
  const assetFilter = (column: string) => asset === undefined ? sql.literal("") : sql`AND ${sql.literal(column)} = ${asset}`
  return yield* withoutJit(sql, sql<{ time: string; payments: number; revenue: ReadonlyArray<AssetTotal> }>`
    WITH ${paymentSources(sql, scope, split)},
    agg AS (
      SELECT date_trunc(${granularity}, x.t, 'UTC') AS bucket, x.asset, sum(x.amount) AS amount, sum(x.payments)::int AS payments
        FROM (SELECT h.hour AS t, h.asset, h.amount, h.payments
                FROM clean c CROSS JOIN LATERAL (
                  SELECT h.* FROM console_revenue_hourly h WHERE h.gateway_id = c.gateway_id
                     AND h.hour >= c.day AND h.hour < c.day + interval '24 hours' ${assetFilter("h.asset")}) h
              UNION ALL
              SELECT p.event_time, p.asset, p.amount, 1
                FROM raw_ranges r
                JOIN payment_authorized p ON p.gateway_id = r.gateway_id AND p.event_time >= r.lo AND p.event_time < r.hi
                 ${assetFilter("p.asset")}) x
       GROUP BY 1, 2),
    assets AS (SELECT DISTINCT asset FROM agg),
    buckets AS (
      SELECT generate_series(date_trunc(${granularity}, ${split.from}::timestamptz, 'UTC'),
                             ${split.to}::timestamptz - interval '1 microsecond',
                             ${step}::interval) AS bucket)
    SELECT rfc3339_utc(b.bucket) AS time,
           coalesce((SELECT sum(a.payments) FROM agg a WHERE a.bucket = b.bucket), 0)::int AS payments,
           coalesce((SELECT json_agg(json_build_object(
                              'asset', s.asset,
                              'amount', ${sql.literal(money("coalesce(a.amount, 0)"))},
                              'payments', coalesce(a.payments, 0)) ORDER BY s.asset)
                       FROM assets s LEFT JOIN agg a ON a.asset = s.asset AND a.bucket = b.bucket), '[]'::json) AS revenue
      FROM buckets b
     ORDER BY b.bucket`)
}, dbFailure)
