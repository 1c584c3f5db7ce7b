/**
 * SQL of `GET /v1/admin/gateways`: status from `gateways.last_seen_at` against the configured
 * thresholds (computed with the database's clock, like every other time here), the newest
 * packet and the recent traffic per gateway from `gateway_telemetry` (index
 * `(gateway_id, window_start DESC)`; the recent window prunes to today's partitions).
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { GatewayHealth } from "../../schema/api/ConsoleAdmin.js"
import type { ConsoleSettings } from "./ConsoleConfig.js"
import { dbFailure } from "./Failures.js"
import { andIf } from "./Scope.js"

export type GatewayStatus = GatewayHealth["status"]

/** The newest packet is looked for this far back; older counts as none (the gateway is silent anyway). */
const LAST_PACKET_LOOKBACK = "2 days"

export interface GatewaysInput {
  readonly settings: ConsoleSettings
  readonly status?: GatewayStatus | undefined
  readonly vendorId?: string | undefined
  readonly limit: number
  readonly afterId?: string | undefined
}

interface Row extends Omit<GatewayHealth, "recent"> {
  readonly packets: number
  readonly requests: number
  readonly errors: number
}

export const gateways = Effect.fn("ConsoleRepo.gateways")(function*(input: GatewaysInput) {
  const sql = yield* SqlClient.SqlClient
  const { settings } = input
  const base = sql`
    SELECT g.*, CASE WHEN g.last_seen_at >= now() - ${settings.staleAfterSeconds} * interval '1 second' THEN 'healthy'
                     WHEN g.last_seen_at >= now() - ${settings.silentAfterSeconds} * interval '1 second' THEN 'stale'
                     ELSE 'silent' END AS status
      FROM gateways g
     WHERE true ${andIf(sql, input.vendorId !== undefined, () => sql`g.vendor_id = ${input.vendorId}`)}`
  const [rows, counts, asOf] = yield* Effect.all([
    // The page is cut first, so the per-gateway telemetry lookups run for its rows only.
    sql<Row>`
      WITH page AS (
        SELECT * FROM (${base}) b
         WHERE true
           ${andIf(sql, input.status !== undefined, () => sql`b.status = ${input.status}`)}
           ${andIf(sql, input.afterId !== undefined, () => sql`b.id > ${input.afterId}`)}
         ORDER BY b.id LIMIT ${input.limit + 1})
      SELECT b.id, b.vendor_id, b.name, b.status, b.disabled_at IS NOT NULL AS disabled, b.version,
             rfc3339_utc(b.last_seen_at) AS last_seen_at, rfc3339_utc(lp.window_end) AS last_packet_at,
             extract(epoch FROM now() - lp.window_end)::float8 AS telemetry_lag_seconds,
             coalesce(rec.packets, 0)::int AS packets, coalesce(rec.requests, 0)::float8 AS requests,
             coalesce(rec.errors, 0)::float8 AS errors,
             b.config, b.config_revision, rfc3339_utc(b.config_updated_at) AS config_updated_at
        FROM page b
        LEFT JOIN LATERAL (
          SELECT t.window_start + t.window_seconds * interval '1 second' AS window_end
            FROM gateway_telemetry t
           WHERE t.gateway_id = b.id AND t.window_start >= now() - ${LAST_PACKET_LOOKBACK}::interval
           ORDER BY t.window_start DESC LIMIT 1) lp ON true
        LEFT JOIN LATERAL (
          SELECT count(*) AS packets, sum(t.requests_total) AS requests, sum(t.requests_error) AS errors
            FROM gateway_telemetry t
           WHERE t.gateway_id = b.id
             AND t.window_start >= now() - ${settings.recentWindowSeconds} * interval '1 second') rec ON true
       ORDER BY b.id`,
    sql<{ status: GatewayStatus; n: number }>`
      WITH base AS (${base}) SELECT status, count(*)::int AS n FROM base GROUP BY status`,
    sql<{ now: string }>`SELECT rfc3339_utc(now()) AS now`
  ], { concurrency: "unbounded" })
  const window = settings.recentWindowSeconds
  const items = rows.slice(0, input.limit).map(({ packets, requests, errors, ...row }): GatewayHealth => ({
    ...row,
    recent: {
      window_seconds: window,
      packets,
      requests,
      errors,
      requests_per_second: requests / window,
      error_rate: requests > 0 ? errors / requests : null
    }
  }))
  const count = (status: GatewayStatus) => counts.find((c) => c.status === status)?.n ?? 0
  return {
    as_of: asOf[0]?.now ?? new Date().toISOString(),
    counts: { healthy: count("healthy"), stale: count("stale"), silent: count("silent") },
    items,
    more: rows.length > input.limit
  }
}, dbFailure)
