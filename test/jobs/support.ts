/**
 * Helpers for the jobs' real-PostgreSQL tests: backdated rows, a runner with given settings,
 * and the rollup recomputed directly from raw rows (the reference the job is compared to).
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { JobRunner, makeJobRunner } from "../../src/jobs/Jobs.js"
import { defaultJobsSettings, type JobsSettings } from "../../src/jobs/JobsConfig.js"
import { makeTestDatabase } from "../support/database.js"

export const at = (iso: string): Date => new Date(iso)

export const runnerLayer = (overrides: Partial<JobsSettings> = {}) =>
  Layer.effect(JobRunner, makeJobRunner({ ...defaultJobsSettings, ...overrides }))

/** A fresh migrated database and a runner with default settings on it. */
export const jobsTestDatabase = () => runnerLayer().pipe(Layer.provideMerge(makeTestDatabase()))

export const ensureDays = (table: string, from: string, to: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT ensure_daily_partitions(${table}, ${from}::date, ${to}::date)`)

export interface Packet {
  readonly gateway: string
  readonly windowStart: Date
  readonly requests?: number
  readonly revenue?: string
  readonly p50?: number | null
  readonly p99?: number | null
  readonly max?: number | null
  readonly asset?: string | null
}

let seq = 0

export const insertPackets = (packets: ReadonlyArray<Packet>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    packets.length === 0 ? Effect.void : sql`INSERT INTO gateway_telemetry ${
      sql.insert(packets.map((p) => {
        const requests = p.requests ?? 10
        return {
          window_start: p.windowStart,
          gateway_id: p.gateway,
          source: `gw/${p.gateway}`,
          event_id: `pkt-${++seq}`,
          received_at: p.windowStart,
          window_seconds: 60,
          requests_total: requests,
          requests_paid: Math.floor(requests / 2),
          requests_blocked: 1,
          requests_error: 0,
          payments_count: Math.floor(requests / 2),
          unique_agents: 2,
          revenue: p.revenue ?? "0.5",
          asset: p.asset === undefined ? "USDC" : p.asset,
          latency_p50_ms: p.p50 === undefined ? 12.5 : p.p50,
          latency_p99_ms: p.p99 === undefined ? 80 : p.p99,
          latency_max_ms: p.max === undefined ? 120 : p.max,
          routes: "[]"
        }
      }))
    }`.pipe(Effect.asVoid))

export const insertPayments = (payments: ReadonlyArray<{ gateway: string; at: Date; amount: string }>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    payments.length === 0 ? Effect.void : sql`INSERT INTO payment_authorized ${
      sql.insert(payments.map((p) => {
        const id = `pay-${++seq}`
        return {
          event_time: p.at,
          received_at: p.at,
          source: `gw/${p.gateway}`,
          event_id: id,
          gateway_id: p.gateway,
          agent_id: "agent-1",
          payment_id: id,
          request_id: id,
          method: "GET",
          route: "/x",
          amount: p.amount,
          asset: "USDC",
          network: "base"
        }
      }))
    }`.pipe(Effect.asVoid))

/** What the ingest writer does for each bucket a flush touches. */
export const markDirty = (gateway: string, hour: Date) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO rollup_dirty (gateway_id, hour) VALUES (${gateway}, ${hour}) ON CONFLICT DO NOTHING`)

export const setWatermark = (watermark: Date | null) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO rollup_state (job, watermark) VALUES ('gateway_stats_hourly', ${watermark})
        ON CONFLICT (job) DO UPDATE SET watermark = EXCLUDED.watermark`)

export const watermark = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(
    sql<{ w: Date | null }>`SELECT watermark AS w FROM rollup_state WHERE job = 'gateway_stats_hourly'`,
    (rows) => rows[0]?.w ?? null
  ))

const NORMALISED = `gateway_id, to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24') AS hour, packets::int AS packets,
  requests_total::text AS requests_total, requests_paid::text AS requests_paid, requests_blocked::text AS requests_blocked,
  requests_error::text AS requests_error, payments_count::text AS payments_count, revenue::numeric(38,18)::text AS revenue,
  asset, round(latency_p50_ms::numeric, 6)::text AS p50, latency_p99_ms AS p99, latency_max_ms AS max,
  payment_amount::numeric(38,18)::text AS payment_amount, payment_count::text AS payment_count`

/** The rollup table below `before`, normalised for comparison. */
export const rolledUp = (before: Date) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`SELECT ${sql.literal(NORMALISED)} FROM gateway_stats_hourly WHERE hour < ${before} ORDER BY 1, 2`)

/** The same rows computed the simple way, from every raw row (the reference). */
export const recomputedFromRaw = (before: Date) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`
      WITH t AS (
        SELECT gateway_id, date_trunc('hour', window_start, 'UTC') AS hour, count(*) AS packets,
               sum(requests_total) AS requests_total, sum(requests_paid) AS requests_paid,
               sum(requests_blocked) AS requests_blocked, sum(requests_error) AS requests_error,
               sum(payments_count) AS payments_count, sum(revenue) AS revenue,
               (array_agg(asset ORDER BY window_start DESC) FILTER (WHERE asset IS NOT NULL))[1] AS asset,
               coalesce(sum(latency_p50_ms * requests_total) FILTER (WHERE requests_total > 0)
                 / nullif(sum(requests_total) FILTER (WHERE requests_total > 0 AND latency_p50_ms IS NOT NULL), 0),
                 avg(latency_p50_ms)) AS latency_p50_ms,
               max(latency_p99_ms) AS latency_p99_ms, max(latency_max_ms) AS latency_max_ms
          FROM gateway_telemetry GROUP BY 1, 2),
      p AS (
        SELECT gateway_id, date_trunc('hour', event_time, 'UTC') AS hour, count(*) AS payment_count,
               sum(amount) AS payment_amount
          FROM payment_authorized GROUP BY 1, 2),
      j AS (
        SELECT coalesce(t.gateway_id, p.gateway_id) AS gateway_id, coalesce(t.hour, p.hour) AS hour,
               coalesce(t.packets, 0) AS packets, coalesce(t.requests_total, 0) AS requests_total,
               coalesce(t.requests_paid, 0) AS requests_paid, coalesce(t.requests_blocked, 0) AS requests_blocked,
               coalesce(t.requests_error, 0) AS requests_error, coalesce(t.payments_count, 0) AS payments_count,
               coalesce(t.revenue, 0) AS revenue, t.asset, t.latency_p50_ms, t.latency_p99_ms, t.latency_max_ms,
               coalesce(p.payment_amount, 0) AS payment_amount, coalesce(p.payment_count, 0) AS payment_count
          FROM t FULL JOIN p ON p.gateway_id = t.gateway_id AND p.hour = t.hour)
      SELECT ${sql.literal(NORMALISED)} FROM j WHERE hour < ${before} ORDER BY 1, 2`)
