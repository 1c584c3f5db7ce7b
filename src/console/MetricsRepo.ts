/**
 * SQL of `GET /v1/vendor/metrics`: an hourly series (rollups for covered hours, raw packets
 * for the rest, see TelemetrySql.ts), its totals, and per-route figures from the raw packets
 * of the last hour of the range (the rollup keeps no per-route columns).
 * A repository behind a tag (`MetricsRepo` / `MetricsRepoLive`), rows decoded by the API schemas.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Context, Effect, Layer, Schema } from "effect"
import { MetricsPoint, RouteMetrics, VendorMetrics } from "../../schema/api/ConsoleVendor.js"
import { Range } from "./Params.js"
import { dbFailure } from "./Failures.js"
import { VendorScope, vendorGateways } from "./Scope.js"
import { telemetryParts, trafficAggregates } from "./TelemetrySql.js"

const MAX_ROUTES = 100
const HOUR = 3_600_000

const MetricsRequest = Schema.Struct({ scope: VendorScope, range: Range })
const RoutesRequest = Schema.Struct({ scope: VendorScope, from: Schema.String, to: Schema.String })
const TotalsRow = VendorMetrics.fields.totals.pipe(Schema.omit("error_rate"))

const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const findSeries = SqlSchema.findAll({
    Request: MetricsRequest,
    Result: MetricsPoint,
    execute: ({ range, scope }) =>
    sql`
      WITH ${telemetryParts(sql, scope, range.from, range.to)},
      hours AS (
        SELECT generate_series(date_trunc('hour', b.f, 'UTC'), b.t - interval '1 microsecond', interval '1 hour') AS hour
          FROM b)
      SELECT rfc3339_utc(s.hour) AS time,
             CASE WHEN bool_or(x.live) OR s.hour < (SELECT cf FROM b)
                       OR s.hour >= (SELECT coalesce(min(rollup_to), '-infinity') FROM g) THEN 'live' ELSE 'rollup' END AS source,
             ${sql.literal(trafficAggregates)},
             max(x.pmax)::float8 AS latency_max_ms
        FROM hours s LEFT JOIN parts x ON x.hour = s.hour
       GROUP BY s.hour ORDER BY s.hour`
  })

  const findTotals = SqlSchema.findAll({
    Request: MetricsRequest,
    Result: TotalsRow,
    execute: ({ range, scope }) =>
    sql`
      WITH ${telemetryParts(sql, scope, range.from, range.to)}
      SELECT ${sql.literal(trafficAggregates)} FROM parts x`
  })

  const findRoutes = SqlSchema.findAll({
    Request: RoutesRequest,
    Result: RouteMetrics,
    execute: ({ from: routesFrom, scope, to }) =>
    sql`
      SELECT r.method, r.route,
             sum(r.requests)::float8 AS requests, sum(r.paid)::float8 AS paid, sum(r.blocked)::float8 AS blocked,
             sum(r.errors)::float8 AS errors,
             (sum(r.latency_p50_ms * r.requests) / nullif(sum(r.requests), 0))::float8 AS latency_p50_ms,
             max(r.latency_p99_ms)::float8 AS latency_p99_ms
        FROM gateways g
        JOIN gateway_telemetry t ON t.gateway_id = g.id
        CROSS JOIN LATERAL jsonb_to_recordset(t.routes)
             AS r(method text, route text, requests bigint, paid bigint, blocked bigint, errors bigint,
                  latency_p50_ms float8, latency_p99_ms float8)
       WHERE ${vendorGateways(sql, scope)}
         AND t.window_start >= ${routesFrom}::timestamptz AND t.window_start < ${to}::timestamptz
       GROUP BY r.method, r.route
       ORDER BY sum(r.requests) DESC, r.method, r.route
       LIMIT ${MAX_ROUTES}`
  })

  const metrics = Effect.fn("ConsoleRepo.metrics")(function*(scope: VendorScope, range: Range) {
    // The last hour of the range, or all of it when shorter (then `from` as given, to the µs).
    const routesFrom = range.toMs - HOUR > range.fromMs ? new Date(range.toMs - HOUR).toISOString() : range.from
    const [series, totals, routes] = yield* Effect.all([
      findSeries({ scope, range }),
      findTotals({ scope, range }),
      findRoutes({ scope, from: routesFrom, to: range.to })
    ], { concurrency: "unbounded" })
    const t = totals[0] ?? { requests: 0, paid: 0, blocked: 0, errors: 0, latency_p50_ms: null, latency_p99_ms: null }
    const result: VendorMetrics = {
      from: range.from,
      to: range.to,
      totals: { ...t, error_rate: t.requests > 0 ? t.errors / t.requests : null },
      series,
      routes: { from: routesFrom, to: range.to, items: routes }
    }
    return result
  }, dbFailure)

  return { metrics } as const
})

export class MetricsRepo extends Context.Tag("Console/MetricsRepo")<MetricsRepo, Effect.Effect.Success<typeof make>>() {}

export const MetricsRepoLive = Layer.effect(MetricsRepo, make)
