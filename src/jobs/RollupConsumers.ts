/**
 * Per-vendor, per-agent totals over the console's default window (migration 0033): the
 * finished UTC days [D − 29 days, D) of the default 30-day range, D = the watermark's day.
 * `GET /v1/vendor/consumers` and the unique agents of `GET /v1/vendor/stats` read them plus
 * today's raw payments instead of merging ~84k daily rows of a large vendor per request.
 *
 * Truth: a window is built in one statement from the same sources as a console request —
 * clean days (built, before the watermark, no dirty or claimed mark) from the daily agent
 * rollup, every other day from `payment_authorized` — so it is exact for its snapshot. Late
 * payments into it leave a dirty mark, and the console does not read a window while any hour
 * of it carries a mark. The job rebuilds the windows of the marked gateways' vendors in the
 * transaction that deletes the claims (src/jobs/Rollup.ts), so a window is never seen
 * unmarked and stale — the rule of the daily rollups (RollupConsole.ts).
 */
import type { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import { DEFAULT_RANGE_DAYS } from "../../schema/api/ConsoleCommon.js"

const DAY = 86_400_000

/** Finished days in the default range (it includes today, which is read raw). */
export const WINDOW_DAYS = DEFAULT_RANGE_DAYS - 1

/** The window the console's default range uses while `watermark` is current: [D − 29 days, D). */
export const windowFor = (watermark: Date) => {
  const to = new Date(Math.floor(watermark.getTime() / DAY) * DAY)
  return { from: new Date(to.getTime() - WINDOW_DAYS * DAY), to }
}

/**
 * Whether a window keeps its blocked-request count (migration 0037): only while retention keeps
 * every blocked request of the window (`RETENTION_BLOCKED_DAYS` longer than the window), since
 * rows deleted from under a stored count would make it larger than the rows the console shows.
 */
export const windowCountsBlocked = (blockedDays: Option.Option<number>) =>
  Option.match(blockedDays, { onNone: () => true, onSome: (days) => days > WINDOW_DAYS })

/**
 * Rebuilds one vendor's window [from, to) (inside the caller's transaction): replaces its
 * totals and records the window with the vendor's gateways, its revenue and (when
 * `countBlocked`) its blocked requests. Returns the number of agents.
 */
export const rebuildVendorWindow = (
  sql: SqlClient.SqlClient,
  vendorId: string,
  from: Date,
  to: Date,
  countBlocked: boolean
) =>
  Effect.gen(function*() {
    const blocked = countBlocked
      ? sql`(SELECT count(*) FROM g JOIN request_blocked b ON b.gateway_id = g.id
              AND b.event_time >= ${from}::timestamptz AND b.event_time < ${to}::timestamptz)`
      : sql`NULL::bigint`
    yield* sql`DELETE FROM console_consumer_totals WHERE vendor_id = ${vendorId}`
    const [row] = yield* sql<{ agents: number }>`
      WITH g AS MATERIALIZED (SELECT g.id FROM gateways g WHERE g.vendor_id = ${vendorId}),
      days AS MATERIALIZED (
        SELECT g.id AS gateway_id, d.day,
               EXISTS (SELECT 1 FROM console_rollup_days s WHERE s.gateway_id = g.id AND s.day = d.day)
           AND d.day + interval '24 hours' <= coalesce(
                 (SELECT watermark FROM rollup_state WHERE job = 'gateway_stats_hourly'), '-infinity'::timestamptz)
           AND NOT EXISTS (SELECT 1 FROM rollup_dirty m
                            WHERE m.gateway_id = g.id AND m.hour >= d.day AND m.hour < d.day + interval '24 hours')
           AND NOT EXISTS (SELECT 1 FROM rollup_claimed m
                            WHERE m.gateway_id = g.id AND m.hour >= d.day AND m.hour < d.day + interval '24 hours') AS clean
          FROM g CROSS JOIN generate_series(${from}::timestamptz, ${to}::timestamptz - interval '24 hours',
                                            interval '24 hours') AS d(day)),
      per_asset AS MATERIALIZED (
        SELECT x.agent_id, x.asset, sum(x.payments) AS payments, sum(x.amount) AS amount,
               min(x.first_seen) AS first_seen, max(x.last_seen) AS last_seen
          FROM (SELECT a.agent_id COLLATE "C" AS agent_id, a.asset, a.payments, a.amount, a.first_seen, a.last_seen
                  FROM days c CROSS JOIN LATERAL (
                    SELECT a.* FROM console_agent_daily a WHERE a.gateway_id = c.gateway_id AND a.day = c.day) a
                 WHERE c.clean
                UNION ALL
                SELECT p.agent_id COLLATE "C", p.asset, 1, p.amount, p.event_time, p.event_time
                  FROM days c JOIN payment_authorized p ON p.gateway_id = c.gateway_id
                   AND p.event_time >= c.day AND p.event_time < c.day + interval '24 hours'
                 WHERE NOT c.clean) x
         GROUP BY 1, 2),
      ins AS (
        INSERT INTO console_consumer_totals (vendor_id, agent_id, payments, amount, first_seen, last_seen, assets, asset_amounts)
        SELECT ${vendorId}, agent_id, sum(payments), sum(amount), min(first_seen), max(last_seen),
               array_agg(asset ORDER BY asset COLLATE "C"), array_agg(amount ORDER BY asset COLLATE "C")
          FROM per_asset GROUP BY agent_id
        RETURNING 1),
      revenue AS (
        SELECT coalesce(array_agg(asset ORDER BY asset COLLATE "C"), '{}') AS assets,
               coalesce(array_agg(amount ORDER BY asset COLLATE "C"), '{}') AS amounts,
               coalesce(array_agg(payments ORDER BY asset COLLATE "C"), '{}') AS payments
          FROM (SELECT asset, sum(amount) AS amount, sum(payments)::bigint AS payments FROM per_asset GROUP BY asset) r),
      win AS (
        INSERT INTO console_consumer_windows (vendor_id, window_from, window_to, gateways, agents, built_at,
                                              revenue_assets, revenue_amounts, revenue_payments, blocked)
        SELECT ${vendorId}, ${from}, ${to}, ARRAY(SELECT id FROM g ORDER BY id COLLATE "C"), (SELECT count(*) FROM ins), now(),
               r.assets, r.amounts, r.payments, ${blocked}
          FROM revenue r
        ON CONFLICT (vendor_id) DO UPDATE
          SET window_from = EXCLUDED.window_from, window_to = EXCLUDED.window_to, gateways = EXCLUDED.gateways,
              agents = EXCLUDED.agents, built_at = EXCLUDED.built_at, revenue_assets = EXCLUDED.revenue_assets,
              revenue_amounts = EXCLUDED.revenue_amounts, revenue_payments = EXCLUDED.revenue_payments,
              blocked = EXCLUDED.blocked
        RETURNING agents)
      SELECT agents FROM win`
    return row?.agents ?? 0
  })

/** Vendors whose built window overlaps the given (gateway, hour) buckets (the late payments of a batch). */
export const windowsOfBuckets = (sql: SqlClient.SqlClient, gateways: ReadonlyArray<string>, hours: ReadonlyArray<Date>) =>
  sql<{ vendor_id: string; window_from: Date; window_to: Date }>`
    SELECT DISTINCT w.vendor_id, w.window_from, w.window_to
      FROM unnest(${gateways}::text[], ${hours}::timestamptz[]) AS b(gateway_id, hour)
      JOIN gateways g ON g.id = b.gateway_id
      JOIN console_consumer_windows w ON w.vendor_id = g.vendor_id
     WHERE b.hour >= w.window_from AND b.hour < w.window_to
     ORDER BY 1`

/** Rebuilds, in the caller's transaction, the windows the given buckets fall into. */
export const rebuildWindowsOfBuckets = (
  sql: SqlClient.SqlClient,
  gateways: ReadonlyArray<string>,
  hours: ReadonlyArray<Date>,
  countBlocked: boolean
) =>
  Effect.flatMap(windowsOfBuckets(sql, gateways, hours), (windows) =>
    Effect.forEach(windows, (w) => rebuildVendorWindow(sql, w.vendor_id, w.window_from, w.window_to, countBlocked)).pipe(
      Effect.map((built) => built.length)
    ))

/**
 * Vendors without a current window: none yet, another window (the day changed), other
 * gateways than when built, built before its revenue was kept (migration 0036), or with a
 * blocked count where none may be kept or none where one should be (migration 0037). At most
 * `limit`, in vendor order.
 */
export const staleWindows = (sql: SqlClient.SqlClient, from: Date, to: Date, limit: number, countBlocked: boolean) =>
  sql<{ vendor_id: string }>`
    SELECT v.vendor_id
      FROM (SELECT g.vendor_id, array_agg(g.id ORDER BY g.id COLLATE "C") AS gateways FROM gateways g GROUP BY 1) v
      LEFT JOIN console_consumer_windows w ON w.vendor_id = v.vendor_id
     WHERE w.vendor_id IS NULL OR w.window_from <> ${from}::timestamptz OR w.window_to <> ${to}::timestamptz
        OR w.gateways <> v.gateways OR w.revenue_assets IS NULL OR (w.blocked IS NULL) = ${countBlocked}
     ORDER BY 1
     LIMIT ${limit}`
