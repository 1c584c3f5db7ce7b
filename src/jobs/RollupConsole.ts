/**
 * The console's payment rollups (migration 0022: per gateway and UTC day, agents and hourly
 * revenue), built by the rollup job — never by a request. The console reads a (gateway, day)
 * from them only while the day is clean: built, wholly before the watermark, and without a
 * dirty or claimed mark (src/console/RollupRepo.ts). So a day is rebuilt in the same
 * transaction that deletes the claims of its late payments: the console then sees either
 * the mark (and reads the payments) or the rebuilt day, never a stale day without a mark.
 *
 * Days are only built once they are over by the database clock too: ingest marks late rows
 * of closed hours (by `now()`), so a later payment of a built day always leaves a mark.
 */
import type { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export interface ConsoleDay {
  readonly gateway_id: string
  readonly day: Date
}

/** Rebuilds the given (gateway, day) pairs from `payment_authorized` (inside the caller's transaction). */
export const rebuildConsoleDays = (sql: SqlClient.SqlClient, pairs: ReadonlyArray<ConsoleDay>) => {
  if (pairs.length === 0) return Effect.succeed(0)
  const stale = sql`(
    SELECT DISTINCT x.gateway_id, x.day FROM unnest(${pairs.map((p) => p.gateway_id)}::text[], ${
    pairs.map((p) => p.day)
  }::timestamptz[]) AS x(gateway_id, day)
     WHERE x.day + interval '24 hours' <= date_trunc('hour', now(), 'UTC')) s`
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
    sql<{ n: number }>`
      WITH up AS (
        INSERT INTO console_rollup_days (gateway_id, day, payments, amount, computed_at)
        SELECT s.gateway_id, s.day, count(p.gateway_id), coalesce(sum(p.amount), 0), now()
          FROM ${stale}
          LEFT JOIN payment_authorized p ON p.gateway_id = s.gateway_id
           AND p.event_time >= s.day AND p.event_time < s.day + interval '24 hours'
         GROUP BY 1, 2
        ON CONFLICT (gateway_id, day) DO UPDATE
          SET payments = EXCLUDED.payments, amount = EXCLUDED.amount, computed_at = EXCLUDED.computed_at
        RETURNING 1)
      SELECT count(*)::int AS n FROM up`
  ]).pipe(Effect.map((results) => results[4][0]?.n ?? 0))
}

/** The UTC days of the given (gateway, hour) buckets that are over before `watermark`. */
export const daysOfBuckets = (
  gateways: ReadonlyArray<string>,
  hours: ReadonlyArray<Date>,
  watermark: Date
): ReadonlyArray<ConsoleDay> => {
  const seen = new Map<string, ConsoleDay>()
  gateways.forEach((gateway_id, i) => {
    const hour = hours[i]
    if (hour === undefined) return
    const day = new Date(Math.floor(hour.getTime() / 86_400_000) * 86_400_000)
    if (day.getTime() + 86_400_000 > watermark.getTime()) return
    seen.set(`${gateway_id}\u0000${day.getTime()}`, { gateway_id, day })
  })
  return [...seen.values()]
}

/**
 * (gateway, day) pairs of days that are over before `watermark`, have payments (per the
 * hourly rollup) and no console rollup yet — new days after the watermark advanced, and the
 * backfill after migration 0032 emptied the tables. At most `limit`, newest first.
 */
export const unbuiltDays = (sql: SqlClient.SqlClient, watermark: Date, sinceDays: number, limit: number) =>
  sql<ConsoleDay>`
    SELECT h.gateway_id, date_trunc('day', h.hour, 'UTC') AS day
      FROM gateway_stats_hourly h
     WHERE h.payment_count > 0
       AND h.hour >= date_trunc('day', ${watermark}::timestamptz, 'UTC') - ${sinceDays} * interval '24 hours'
       AND date_trunc('day', h.hour, 'UTC') + interval '24 hours' <= ${watermark}::timestamptz
       AND NOT EXISTS (SELECT 1 FROM console_rollup_days s
                        WHERE s.gateway_id = h.gateway_id AND s.day = date_trunc('day', h.hour, 'UTC'))
     GROUP BY 1, 2
     ORDER BY 2 DESC, 1
     LIMIT ${limit}`
