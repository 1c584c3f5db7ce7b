/**
 * Traffic figures for a vendor over `[from, to)`: whole hours the rollup job has covered come
 * from `gateway_stats_hourly`; everything else — the partial first and last hour, and hours the
 * rollup has not reached yet (the current one, or more while the job lags) — from the raw 60 s
 * packets in `gateway_telemetry`. Per gateway, "covered" means before the hour after its newest
 * rollup row (rollup_to), so a lagging job never leaves a hole (and never double-counts) —
 * except hours with a dirty or claimed mark: late packets the job has not re-rolled yet make
 * their rollup row stale, so those hours are read from the packets too.
 *
 * The `parts` CTE yields one row per rollup hour or raw packet:
 *   hour, live, requests, paid, blocked, errors, p50, p99, pmax
 */
import type { SqlClient, Statement } from "@effect/sql"
import { type VendorScope, vendorGateways } from "./Scope.js"

export const telemetryParts = (
  sql: SqlClient.SqlClient,
  scope: VendorScope,
  from: string,
  to: string
): Statement.Fragment =>
  sql`
  g AS MATERIALIZED (
    SELECT g.id,
           coalesce((SELECT max(h.hour) FROM gateway_stats_hourly h WHERE h.gateway_id = g.id) + interval '1 hour',
                    '-infinity'::timestamptz) AS rollup_to
      FROM gateways g
     WHERE ${vendorGateways(sql, scope)}),
  b AS MATERIALIZED (
    SELECT f, t,
           CASE WHEN date_trunc('hour', f, 'UTC') = f THEN f ELSE date_trunc('hour', f, 'UTC') + interval '1 hour' END AS cf,
           date_trunc('hour', t, 'UTC') AS ft
      FROM (SELECT ${from}::timestamptz AS f, ${to}::timestamptz AS t) x),
  -- Covered hours with late data the job has not re-rolled yet (marked by ingest, or claimed by
  -- a job that has not committed): their rollup row is stale, so they are read from packets.
  dirty AS MATERIALIZED (
    SELECT m.gateway_id, m.hour
      FROM g CROSS JOIN b CROSS JOIN LATERAL (
        SELECT d.gateway_id, d.hour FROM rollup_dirty d
         WHERE d.gateway_id = g.id AND d.hour >= b.cf AND d.hour < least(b.ft, g.rollup_to)
        UNION
        SELECT c.gateway_id, c.hour FROM rollup_claimed c
         WHERE c.gateway_id = g.id AND c.hour >= b.cf AND c.hour < least(b.ft, g.rollup_to)) m),
  parts AS (
    SELECT h.hour, false AS live, h.requests_total AS requests, h.requests_paid AS paid, h.requests_blocked AS blocked,
           h.requests_error AS errors, h.latency_p50_ms AS p50, h.latency_p99_ms AS p99, h.latency_max_ms AS pmax
      FROM g CROSS JOIN b
      JOIN gateway_stats_hourly h ON h.gateway_id = g.id AND h.hour >= b.cf AND h.hour < least(b.ft, g.rollup_to)
     WHERE NOT EXISTS (SELECT 1 FROM dirty d WHERE d.gateway_id = h.gateway_id AND d.hour = h.hour)
    UNION ALL
    SELECT date_trunc('hour', p.window_start, 'UTC'), true, p.requests_total, p.requests_paid, p.requests_blocked,
           p.requests_error, p.latency_p50_ms, p.latency_p99_ms, p.latency_max_ms
      FROM dirty d
      JOIN gateway_telemetry p ON p.gateway_id = d.gateway_id AND p.window_start >= d.hour
       AND p.window_start < d.hour + interval '1 hour'
    UNION ALL
    SELECT date_trunc('hour', p.window_start, 'UTC'), true, p.requests_total, p.requests_paid, p.requests_blocked,
           p.requests_error, p.latency_p50_ms, p.latency_p99_ms, p.latency_max_ms
      FROM g CROSS JOIN b
      -- Two index ranges, not one range and a filter: [from, first whole hour) and [end of
      -- what the rollup covers, to).
      CROSS JOIN LATERAL (VALUES (b.f, least(b.cf, b.t)), (greatest(b.f, b.cf, least(b.ft, g.rollup_to)), b.t)) AS r(lo, hi)
      JOIN gateway_telemetry p ON p.gateway_id = g.id AND p.window_start >= r.lo AND p.window_start < r.hi)`

/** Aggregates over `parts` rows (`x`): traffic counters and approximate latency. */
export const trafficAggregates = `
  coalesce(sum(x.requests), 0)::float8 AS requests,
  coalesce(sum(x.paid), 0)::float8 AS paid,
  coalesce(sum(x.blocked), 0)::float8 AS blocked,
  coalesce(sum(x.errors), 0)::float8 AS errors,
  (sum(x.p50 * x.requests) FILTER (WHERE x.p50 IS NOT NULL)
     / nullif(sum(x.requests) FILTER (WHERE x.p50 IS NOT NULL), 0))::float8 AS latency_p50_ms,
  max(x.p99)::float8 AS latency_p99_ms`
