/**
 * The SQL of the hourly rollup (`gateway_telemetry` + `payment_authorized` → `gateway_stats_hourly`).
 * Column meanings are in docs/jobs.md; the bucket of a packet is the UTC hour of its
 * `window_start`, the bucket of a payment the UTC hour of its `event_time`.
 */
import type { SqlClient } from "@effect/sql"

/** Per-bucket aggregates over `gateway_telemetry gt` (all 0/NULL when the bucket has no packet). */
const TELEMETRY_AGGREGATES = `
  count(*)::int AS packets,
  coalesce(sum(gt.requests_total), 0)::bigint AS requests_total,
  coalesce(sum(gt.requests_paid), 0)::bigint AS requests_paid,
  coalesce(sum(gt.requests_blocked), 0)::bigint AS requests_blocked,
  coalesce(sum(gt.requests_error), 0)::bigint AS requests_error,
  coalesce(sum(gt.payments_count), 0)::bigint AS payments_count,
  coalesce(sum(gt.revenue), 0) AS revenue,
  (array_agg(gt.asset ORDER BY gt.window_start DESC) FILTER (WHERE gt.asset IS NOT NULL))[1] AS asset,
  coalesce(
    sum(gt.latency_p50_ms * gt.requests_total) FILTER (WHERE gt.latency_p50_ms IS NOT NULL AND gt.requests_total > 0)
      / nullif(sum(gt.requests_total) FILTER (WHERE gt.latency_p50_ms IS NOT NULL AND gt.requests_total > 0), 0)::float8,
    avg(gt.latency_p50_ms)) AS latency_p50_ms,
  max(gt.latency_p99_ms) AS latency_p99_ms,
  max(gt.latency_max_ms) AS latency_max_ms`

const TELEMETRY_COLUMNS = [
  "packets", "requests_total", "requests_paid", "requests_blocked", "requests_error", "payments_count",
  "revenue", "asset", "latency_p50_ms", "latency_p99_ms", "latency_max_ms"
] as const

const ALL_COLUMNS = ["gateway_id", "hour", ...TELEMETRY_COLUMNS, "payment_amount", "payment_count"].join(", ")

/** Distinct gateways of `payment_authorized`, one index probe each (a loose index scan). */
const PAYMENT_GATEWAYS = `
  gw(gateway_id) AS (
    (SELECT gateway_id FROM payment_authorized ORDER BY gateway_id LIMIT 1)
    UNION ALL
    SELECT (SELECT pa.gateway_id FROM payment_authorized pa WHERE pa.gateway_id > gw.gateway_id
             ORDER BY pa.gateway_id LIMIT 1)
      FROM gw WHERE gw.gateway_id IS NOT NULL)`

/**
 * Upserts the rows of CTE `agg`. Below `floor` (the first day still holding telemetry
 * partitions) packets are gone, so an existing row keeps its telemetry columns and only
 * its payment columns are recomputed.
 */
const upsert = (sql: SqlClient.SqlClient, floor: Date | null) => {
  const keep = sql.join(", ", false)(
    TELEMETRY_COLUMNS.map((column) =>
      sql`${sql(column)} = CASE WHEN EXCLUDED.hour < ${floor}::timestamptz
            THEN gateway_stats_hourly.${sql(column)} ELSE EXCLUDED.${sql(column)} END`
    )
  )
  return sql`
    INSERT INTO gateway_stats_hourly (${sql.literal(ALL_COLUMNS)}, computed_at)
    SELECT ${sql.literal(ALL_COLUMNS)}, now() FROM agg WHERE packets > 0 OR payment_count > 0
    ON CONFLICT (gateway_id, hour) DO UPDATE SET ${keep},
      payment_amount = EXCLUDED.payment_amount,
      payment_count = EXCLUDED.payment_count,
      computed_at = EXCLUDED.computed_at
    RETURNING 1`
}

export interface Recomputed {
  readonly upserted: number
  readonly deleted: number
}

/** Recomputes every bucket of `[from, to)`; a bucket left without source rows is deleted. */
export const recomputeRange = (sql: SqlClient.SqlClient, from: Date, to: Date, floor: Date | null) =>
  sql<Recomputed>`
    WITH RECURSIVE ${sql.literal(PAYMENT_GATEWAYS)},
    t AS (
      SELECT gt.gateway_id, date_trunc('hour', gt.window_start, 'UTC') AS hour, ${sql.literal(TELEMETRY_AGGREGATES)}
        FROM gateway_telemetry gt
       WHERE gt.window_start >= ${from} AND gt.window_start < ${to}
       GROUP BY 1, 2),
    p AS (
      SELECT gw.gateway_id, x.hour, x.payment_count, x.payment_amount
        FROM gw CROSS JOIN LATERAL (
          SELECT date_trunc('hour', pa.event_time, 'UTC') AS hour, count(*)::bigint AS payment_count,
                 sum(pa.amount) AS payment_amount
            FROM payment_authorized pa
           WHERE pa.gateway_id = gw.gateway_id AND pa.event_time >= ${from} AND pa.event_time < ${to}
           GROUP BY 1) x
       WHERE gw.gateway_id IS NOT NULL),
    agg AS (
      SELECT coalesce(t.gateway_id, p.gateway_id) AS gateway_id, coalesce(t.hour, p.hour) AS hour,
             coalesce(t.packets, 0) AS packets, coalesce(t.requests_total, 0) AS requests_total,
             coalesce(t.requests_paid, 0) AS requests_paid, coalesce(t.requests_blocked, 0) AS requests_blocked,
             coalesce(t.requests_error, 0) AS requests_error, coalesce(t.payments_count, 0) AS payments_count,
             coalesce(t.revenue, 0) AS revenue, t.asset, t.latency_p50_ms, t.latency_p99_ms, t.latency_max_ms,
             coalesce(p.payment_amount, 0) AS payment_amount, coalesce(p.payment_count, 0) AS payment_count
        FROM t FULL JOIN p ON p.gateway_id = t.gateway_id AND p.hour = t.hour),
    up AS (${upsert(sql, floor)}),
    del AS (
      DELETE FROM gateway_stats_hourly s
       WHERE s.hour >= greatest(${from}::timestamptz, coalesce(${floor}::timestamptz, '-infinity'))
         AND s.hour < ${to}
         AND NOT EXISTS (SELECT 1 FROM agg WHERE agg.gateway_id = s.gateway_id AND agg.hour = s.hour)
      RETURNING 1)
    SELECT (SELECT count(*) FROM up)::int AS upserted, (SELECT count(*) FROM del)::int AS deleted`

/** Recomputes the given (gateway, hour) buckets with index lookups on both sources. */
export const recomputeBuckets = (
  sql: SqlClient.SqlClient,
  gateways: ReadonlyArray<string>,
  hours: ReadonlyArray<Date>,
  floor: Date | null
) =>
  sql<Recomputed>`
    WITH b AS (
      SELECT DISTINCT gateway_id, hour FROM unnest(${gateways}::text[], ${hours}::timestamptz[]) AS b(gateway_id, hour)),
    agg AS (
      SELECT b.gateway_id, b.hour, t.*, p.payment_amount, p.payment_count
        FROM b
        CROSS JOIN LATERAL (
          SELECT ${sql.literal(TELEMETRY_AGGREGATES)}
            FROM gateway_telemetry gt
           WHERE gt.gateway_id = b.gateway_id
             AND gt.window_start >= b.hour AND gt.window_start < b.hour + interval '1 hour') t
        CROSS JOIN LATERAL (
          SELECT count(*)::bigint AS payment_count, coalesce(sum(pa.amount), 0) AS payment_amount
            FROM payment_authorized pa
           WHERE pa.gateway_id = b.gateway_id
             AND pa.event_time >= b.hour AND pa.event_time < b.hour + interval '1 hour') p),
    up AS (${upsert(sql, floor)}),
    del AS (
      DELETE FROM gateway_stats_hourly s USING agg
       WHERE s.gateway_id = agg.gateway_id AND s.hour = agg.hour
         AND agg.packets = 0 AND agg.payment_count = 0
         AND s.hour >= coalesce(${floor}::timestamptz, '-infinity')
      RETURNING 1)
    SELECT (SELECT count(*) FROM up)::int AS upserted, (SELECT count(*) FROM del)::int AS deleted`

/**
 * Moves dirty marks into `rollup_claimed` (deleting them from `rollup_dirty`), so a mark the
 * ingest writer adds from now on is a new row that survives this recomputation.
 */
export const claimMarks = (
  sql: SqlClient.SqlClient,
  range: { readonly below: Date; readonly markedBefore: Date; readonly limit: number } | {
    readonly from: Date
    readonly to: Date
  }
) => {
  const pick = "below" in range
    ? sql`SELECT gateway_id, hour FROM rollup_dirty
           WHERE hour < ${range.below} AND marked_at <= ${range.markedBefore}
           ORDER BY hour DESC, gateway_id LIMIT ${range.limit}`
    : sql`SELECT gateway_id, hour FROM rollup_dirty WHERE hour >= ${range.from} AND hour < ${range.to}`
  return sql<{ n: number }>`
    WITH c AS (
      DELETE FROM rollup_dirty d USING (${pick}) s
       WHERE d.gateway_id = s.gateway_id AND d.hour = s.hour
      RETURNING d.gateway_id, d.hour, d.marked_at),
    ins AS (
      INSERT INTO rollup_claimed (gateway_id, hour, marked_at) SELECT gateway_id, hour, marked_at FROM c
      ON CONFLICT (gateway_id, hour) DO NOTHING)
    SELECT count(*)::int AS n FROM c`
}
