/**
 * SQL of `GET /v1/admin/gateways`: status from `gateways.last_seen_at` against the configured
 * thresholds (computed with the database's clock, like every other time here), the newest
 * packet and the recent traffic per gateway from `gateway_telemetry` (index
 * `(gateway_id, window_start DESC)`; the recent window prunes to today's partitions).
 * A repository behind a tag (`GatewayHealthRepo` / `GatewayHealthRepoLive`), rows decoded by schemas.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Context, Effect, Layer, Schema } from "effect"
import { type GatewayHealth, GatewayHealth as GatewayHealthSchema, GatewayStatus as GatewayStatusSchema } from "../../schema/api/ConsoleAdmin.js"
import { UtcTime } from "../../schema/api/ConsoleCommon.js"
import type { ConsoleSettings } from "./ConsoleConfig.js"
import { dbFailure } from "./Failures.js"
import { andIf } from "./Scope.js"

export type GatewayStatus = GatewayHealth["status"]

/** The newest packet is looked for this far back; older counts as none (the gateway is silent anyway). */
const LAST_PACKET_LOOKBACK = "2 days"

const GatewaysInput = Schema.Struct({
  settings: Schema.Struct({
    staleAfterSeconds: Schema.Int,
    silentAfterSeconds: Schema.Int,
    recentWindowSeconds: Schema.Int
  }),
  status: Schema.optional(GatewayStatusSchema),
  vendorId: Schema.optional(Schema.String),
  limit: Schema.Int,
  afterId: Schema.optional(Schema.String)
})
export interface GatewaysInput extends Omit<typeof GatewaysInput.Type, "settings"> {
  readonly settings: ConsoleSettings
}

const { recent: _recent, ...healthFields } = GatewayHealthSchema.fields
const Row = Schema.Struct({
  ...healthFields,
  packets: Schema.Int,
  requests: Schema.Number,
  errors: Schema.Number
})
const CountRow = Schema.Struct({ status: GatewayStatusSchema, n: Schema.Int })
const NowRow = Schema.Struct({ now: UtcTime })

const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const base = (input: typeof GatewaysInput.Encoded) => {
    const { settings } = input
    return sql`
    SELECT g.*, CASE WHEN g.last_seen_at >= now() - ${settings.staleAfterSeconds} * interval '1 second' THEN 'healthy'
                     WHEN g.last_seen_at >= now() - ${settings.silentAfterSeconds} * interval '1 second' THEN 'stale'
                     ELSE 'silent' END AS status
      FROM gateways g
     WHERE true ${andIf(sql, input.vendorId !== undefined, () => sql`g.vendor_id = ${input.vendorId}`)}`
  }

  // The page is cut first, so the per-gateway telemetry lookups run for its rows only.
  const findPage = SqlSchema.findAll({
    Request: GatewaysInput,
    Result: Row,
    execute: (input) => {
      const { settings } = input
      return sql`
      WITH page AS (
        SELECT * FROM (${base(input)}) b
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
       ORDER BY b.id`
    }
  })

  const findCounts = SqlSchema.findAll({
    Request: GatewaysInput,
    Result: CountRow,
    execute: (input) =>
      sql`
      WITH base AS (${base(input)}) SELECT status, count(*)::int AS n FROM base GROUP BY status`
  })

  const findNow = SqlSchema.single({
    Request: Schema.Void,
    Result: NowRow,
    execute: () => sql`SELECT rfc3339_utc(now()) AS now`
  })

  const gateways = Effect.fn("ConsoleRepo.gateways")(function*(input: GatewaysInput) {
    const { settings } = input
    const [rows, counts, asOf] = yield* Effect.all([
      findPage(input),
      findCounts(input),
      findNow(undefined)
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
      as_of: asOf.now,
      counts: { healthy: count("healthy"), stale: count("stale"), silent: count("silent") },
      items,
      more: rows.length > input.limit
    }
  }, dbFailure)

  return { gateways } as const
})

export class GatewayHealthRepo extends Context.Tag("Console/GatewayHealthRepo")<
  GatewayHealthRepo,
  Effect.Effect.Success<typeof make>
>() {}

export const GatewayHealthRepoLive = Layer.effect(GatewayHealthRepo, make)
