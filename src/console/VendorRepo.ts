/**
 * SQL of the vendor aggregates: stats and revenue history (consumers: ConsumersRepo.ts).
 * Payments come from the console rollups for the clean days of the range and from
 * `payment_authorized` for the rest (see RollupRepo.ts), both per gateway of the caller
 * (`vendorGateways`); raw payments are read index-only through
 * `(gateway_id, event_time …) INCLUDE (agent_id, amount, asset)`.
 *
 * Like every console repository, a service behind a tag (`VendorRepo`, built over the
 * `SqlClient` by `VendorRepoLive`) whose statements are `SqlSchema` queries: requests are
 * encoded and rows decoded by schemas, and handler tests replace it with `Layer.mock`.
 */
import { SqlClient, SqlSchema, type Statement } from "@effect/sql"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { AssetTotal } from "../../schema/api/ConsoleCommon.js"
import { RevenuePoint, type VendorStats } from "../../schema/api/ConsoleVendor.js"
import { Range } from "./Params.js"
import { type ConsumerWindow, consumerWindow, paymentSources, withoutJit } from "./RollupRepo.js"
import { dbFailure } from "./Failures.js"
import { money, VendorScope } from "./Scope.js"
import { telemetryParts, trafficAggregates } from "./TelemetrySql.js"

const OwnsGatewayRequest = Schema.Struct({ vendorId: Schema.String, gatewayId: Schema.String })
const StatsRequest = Schema.Struct({ scope: VendorScope, split: Range })
const RevenueHistoryRequest = Schema.Struct({
  scope: VendorScope,
  split: Range,
  granularity: Schema.Literal("day", "hour"),
  asset: Schema.optional(Schema.String)
})

const TotalsRow = Schema.Struct({
  revenue: Schema.Array(AssetTotal),
  unique_agents: Schema.Int,
  gateways: Schema.Int,
  blocked_requests: Schema.Int
})
const TrafficRow = Schema.Struct({
  requests: Schema.Number,
  errors: Schema.Number,
  latency_p99_ms: Schema.NullOr(Schema.Number)
})

const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const findOwnership = SqlSchema.findOne({
    Request: OwnsGatewayRequest,
    Result: Schema.Unknown, // only whether a row exists matters
    execute: ({ gatewayId, vendorId }) => sql`SELECT 1 FROM gateways WHERE id = ${gatewayId} AND vendor_id = ${vendorId}`
  })

  const findTotals = SqlSchema.findAll({
    Request: StatsRequest,
    Result: TotalsRow,
    // With a clean consumers window for this range (RollupRepo.ts) its stored revenue and agent
    // count plus the payments since its end; otherwise revenue from the hourly revenue rollup,
    // unique agents from the daily agent rollup's ids, the rest of the range raw.
    execute: ({ scope, split }) =>
      withoutJit(sql, Effect.flatMap(consumerWindow(sql, scope, split), (window) =>
        window === undefined ? rollupTotals(sql, scope, split) : windowTotals(sql, split, window)))
  })

  const findTraffic = SqlSchema.findAll({
    Request: StatsRequest,
    Result: TrafficRow,
    execute: ({ scope, split }) =>
      sql`
      WITH ${telemetryParts(sql, scope, split.from, split.to)}
      SELECT ${sql.literal(trafficAggregates)} FROM parts x`
  })

  const findRevenueHistory = SqlSchema.findAll({
    Request: RevenueHistoryRequest,
    Result: RevenuePoint,
    execute: ({ asset, granularity, scope, split }) => {
      // '24 hours', not '1 day': a day step on timestamptz follows the session time zone's DST.
      const step = granularity === "day" ? "24 hours" : "1 hour"
      const assetFilter = (column: string) => asset === undefined ? sql.literal("") : sql`AND ${sql.literal(column)} = ${asset}`
      return withoutJit(sql, sql`
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
    }
  })

  const ownsGateway = Effect.fn("ConsoleRepo.ownsGateway")(function*(vendorId: string, gatewayId: string) {
    return Option.isSome(yield* findOwnership({ vendorId, gatewayId }))
  }, dbFailure)

  const stats = Effect.fn("ConsoleRepo.stats")(function*(scope: VendorScope, split: Range) {
    const [totals, traffic] = yield* Effect.all([
      findTotals({ scope, split }),
      findTraffic({ scope, split })
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

  const revenueHistory = Effect.fn("ConsoleRepo.revenueHistory")(function*(
    scope: VendorScope,
    split: Range,
    granularity: "day" | "hour",
    asset: string | undefined
  ) {
    return yield* findRevenueHistory({ scope, split, granularity, asset })
  }, dbFailure)

  return { ownsGateway, stats, revenueHistory } as const
})

export class VendorRepo extends Context.Tag("Console/VendorRepo")<VendorRepo, Effect.Effect.Success<typeof make>>() {}

export const VendorRepoLive = Layer.effect(VendorRepo, make)

type Totals = { revenue: ReadonlyArray<AssetTotal>; unique_agents: number; gateways: number; blocked_requests: number }

/** Revenue per asset from rows `x` (asset, amount, payments), as the wire's JSON array. */
const revenueJson = (sql: SqlClient.SqlClient, rows: Statement.Fragment) =>
  sql`(SELECT coalesce(json_agg(json_build_object('asset', a.asset, 'amount', ${sql.literal(money("a.amount"))},
                                                  'payments', a.payments) ORDER BY a.asset), '[]'::json)
         FROM (SELECT x.asset, sum(x.amount) AS amount, sum(x.payments)::int AS payments
                 FROM (${rows}) x GROUP BY x.asset) a)`

/** Blocked requests of the scope's gateways (CTE `g`) in [from, to), read index-only. */
const blockedCount = (sql: SqlClient.SqlClient, from: string | Date, to: string) =>
  sql`(SELECT count(*) FROM g JOIN request_blocked p ON p.gateway_id = g.id
        WHERE p.event_time >= ${from}::timestamptz AND p.event_time < ${to}::timestamptz)`

/** Gateways and blocked requests of the scope (CTE `g`) over the range. */
const counts = (sql: SqlClient.SqlClient, split: Range) =>
  sql`(SELECT count(*)::int FROM g) AS gateways, ${blockedCount(sql, split.from, split.to)}::int AS blocked_requests`

/**
 * Clean days from the rollups (probed per clean day, LATERAL: a hash join would scan the whole
 * table), the rest of the range from the raw payments (index-only).
 */
const rollupTotals = (sql: SqlClient.SqlClient, scope: VendorScope, split: Range) =>
  sql<Totals>`
    WITH ${paymentSources(sql, scope, split)},
    raw AS MATERIALIZED (
      SELECT p.asset, p.agent_id COLLATE "C" AS agent_id, p.amount
        FROM raw_ranges r
        JOIN payment_authorized p ON p.gateway_id = r.gateway_id AND p.event_time >= r.lo AND p.event_time < r.hi)
    SELECT ${
    revenueJson(
      sql,
      sql`SELECT h.asset, h.amount, h.payments
            FROM clean c CROSS JOIN LATERAL (
              SELECT h.* FROM console_revenue_hourly h WHERE h.gateway_id = c.gateway_id
                 AND h.hour >= c.day AND h.hour < c.day + interval '24 hours') h
          UNION ALL
          SELECT asset, amount, 1 FROM raw`
    )
  } AS revenue,
           -- GROUP BY over UNION ALL, not UNION: hashed (~7 ms for the largest gateway's 28k
           -- rows) where UNION sorts them (~15 ms).
           (SELECT count(*)::int
              FROM (SELECT d.agent_id
                      FROM (SELECT a.agent_id COLLATE "C" AS agent_id FROM clean c CROSS JOIN LATERAL (
                              SELECT a.agent_id FROM console_agent_daily a WHERE a.gateway_id = c.gateway_id AND a.day = c.day) a
                            UNION ALL
                            SELECT agent_id FROM raw) d
                     GROUP BY 1) d) AS unique_agents,
           ${counts(sql, split)}`

/**
 * The vendor's window (revenue, agent count and blocked requests stored with it) plus its
 * payments and blocked requests since the window's end. Today's agents are probed one by one
 * against the window (a scalar subquery per agent: as a join the planner hashes the whole
 * window). A window without a blocked count (migration 0037) has the range's rows counted.
 */
const windowTotals = (sql: SqlClient.SqlClient, split: Range, window: ConsumerWindow) =>
  sql<Totals>`
    WITH g AS MATERIALIZED (SELECT g.id FROM gateways g WHERE g.vendor_id = ${window.vendorId}),
    w AS MATERIALIZED (SELECT * FROM console_consumer_windows w WHERE w.vendor_id = ${window.vendorId}),
    -- Grouped once per (asset, agent): both the revenue and the agent count read ~10× fewer rows.
    tail AS MATERIALIZED (
      SELECT p.asset, p.agent_id COLLATE "C" AS agent_id, sum(p.amount) AS amount, count(*) AS payments
        FROM g JOIN payment_authorized p ON p.gateway_id = g.id
         AND p.event_time >= ${window.to}::timestamptz AND p.event_time < ${split.to}::timestamptz
       GROUP BY 1, 2)
    SELECT ${
    revenueJson(
      sql,
      sql`SELECT u.asset, u.amount, u.payments
            FROM w CROSS JOIN LATERAL unnest(w.revenue_assets, w.revenue_amounts, w.revenue_payments) AS u(asset, amount, payments)
          UNION ALL
          SELECT asset, amount, payments FROM tail`
    )
  } AS revenue,
           ((SELECT w.agents FROM w)
            + (SELECT count(*) FROM (SELECT DISTINCT t.agent_id FROM tail t) t
                WHERE NOT (SELECT EXISTS (SELECT 1 FROM console_consumer_totals c
                                           WHERE c.vendor_id = ${window.vendorId} AND c.agent_id = t.agent_id))))::int
             AS unique_agents,
           (SELECT count(*)::int FROM g) AS gateways,
           coalesce((SELECT w.blocked FROM w) + ${blockedCount(sql, window.to, split.to)},
                    ${blockedCount(sql, split.from, split.to)})::int AS blocked_requests`
