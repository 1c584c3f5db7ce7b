/**
 * The console's payment rollups: days before the hourly rollup's watermark are served from
 * them, and give the same figures as the raw payments; a late payment shows up once the
 * hourly rollup has counted it (the day's totals no longer match, so the day is rebuilt).
 */
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { ConsoleTestLayer, clientFor, insertPayments, insertVendor, token } from "./support.js"

const HOUR = 3_600_000
const DAY = 24 * HOUR
const now = Date.now()
const iso = (ms: number) => new Date(ms).toISOString()
const from = iso(Math.floor(now / DAY) * DAY - 6 * DAY)
const to = iso(now)
const vendor = token({ role: "vendor", vendorId: "rv" })

/** What the hourly rollup job would write: exact payment totals per gateway and hour. */
const rollHourly = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DELETE FROM gateway_stats_hourly`
  yield* sql`
    INSERT INTO gateway_stats_hourly (gateway_id, hour, payment_count, payment_amount)
    SELECT gateway_id, date_trunc('hour', event_time, 'UTC'), count(*), sum(amount)
      FROM payment_authorized WHERE event_time < date_trunc('hour', now(), 'UTC') GROUP BY 1, 2`
  yield* sql`INSERT INTO rollup_state (job, watermark) VALUES ('gateway_stats_hourly', date_trunc('hour', now(), 'UTC'))
             ON CONFLICT (job) DO UPDATE SET watermark = EXCLUDED.watermark`
})

const raw = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const revenue = yield* sql<{ asset: string; amount: string; payments: number }>`
    SELECT asset, trim_scale(sum(amount))::text AS amount, count(*)::int AS payments FROM payment_authorized
     WHERE gateway_id LIKE 'rv-%' AND event_time >= ${from}::timestamptz AND event_time < ${to}::timestamptz
     GROUP BY asset ORDER BY asset`
  const agents = yield* sql<{ agent_id: string; payments: number; first_seen: string; last_seen: string }>`
    SELECT agent_id, count(*)::int AS payments, rfc3339_utc(min(event_time)) AS first_seen, rfc3339_utc(max(event_time)) AS last_seen
      FROM payment_authorized
     WHERE gateway_id LIKE 'rv-%' AND event_time >= ${from}::timestamptz AND event_time < ${to}::timestamptz
     GROUP BY agent_id ORDER BY agent_id`
  return { revenue, agents }
})

const served = Effect.gen(function*() {
  const client = yield* clientFor(vendor)
  const stats = yield* client.consoleVendor.stats({ urlParams: { from, to } })
  const consumers = yield* client.consoleVendor.consumers({ urlParams: { from, to, limit: 500, sort: "payments" } })
  const daily = yield* client.consoleVendor.revenueHistory({ urlParams: { from, to } })
  return { stats, consumers, daily }
})

layer(ConsoleTestLayer, { excludeTestServices: true })("console rollups", (it) => {
  it.effect("fixtures", () =>
    Effect.gen(function*() {
      yield* insertVendor("rv", ["rv-g1", "rv-g2"])
      yield* insertPayments(Array.from({ length: 400 }, (_, i) => ({
        gateway: i % 3 === 0 ? "rv-g2" : "rv-g1",
        agent: `ra-${i % 23}`,
        time: iso(now - Math.floor((i * 6 * DAY) / 400) - 5_000),
        amount: ((i % 11) * 0.013 + 0.001).toFixed(3),
        asset: i % 9 === 0 ? "EURC" : "USDC"
      })))
      yield* rollHourly
    }))

  it.effect("rolled-up days give the raw figures", () =>
    Effect.gen(function*() {
      const expected = yield* raw
      const { consumers, daily, stats } = yield* served
      const sql = yield* SqlClient.SqlClient
      const days = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM console_rollup_days WHERE gateway_id LIKE 'rv-%'`
      expect(days[0]?.n, "whole past days rolled up, per gateway").toBe(12)
      expect(stats.revenue).toEqual(expected.revenue)
      expect(stats.unique_agents).toBe(expected.agents.length)
      expect([...consumers.items].sort((a, b) => a.agent_id.localeCompare(b.agent_id)).map((c) => ({
        agent_id: c.agent_id, payments: c.payments, first_seen: c.first_seen, last_seen: c.last_seen
      }))).toEqual([...expected.agents].sort((a, b) => a.agent_id.localeCompare(b.agent_id)))
      expect(daily.points.length).toBe(7)
      expect(daily.points.reduce((n, p) => n + p.payments, 0)).toBe(400)
    }))

  it.effect("those days are read from the rollups, not from the payments", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const before = yield* served
      const consumerPayments = (c: typeof before.consumers) => c.items.reduce((n, i) => n + i.payments, 0)
      yield* sql`UPDATE console_revenue_hourly SET payments = payments + 1000
                  WHERE (gateway_id, hour, asset) IN (SELECT gateway_id, hour, asset FROM console_revenue_hourly LIMIT 1)`
      yield* sql`UPDATE console_agent_daily SET payments = payments + 1000
                  WHERE (gateway_id, day, agent_id, asset) IN (SELECT gateway_id, day, agent_id, asset FROM console_agent_daily LIMIT 1)`
      const after = yield* served
      expect(after.stats.payments).toBe(before.stats.payments + 1000)
      expect(consumerPayments(after.consumers)).toBe(consumerPayments(before.consumers) + 1000)
      yield* sql`UPDATE console_revenue_hourly SET payments = payments - 1000 WHERE payments > 1000`
      yield* sql`UPDATE console_agent_daily SET payments = payments - 1000 WHERE payments > 1000`
    }))

  it.effect("a late payment counts once the hourly rollup has it", () =>
    Effect.gen(function*() {
      const before = (yield* served).stats
      const late = iso(Math.floor(now / DAY) * DAY - 3 * DAY + 7 * HOUR)
      yield* insertPayments([{ gateway: "rv-g2", agent: "ra-late", time: late, amount: "5", asset: "USDC" }])
      // Until the hourly rollup re-rolls the hour, both sources agree on the old figures.
      expect((yield* served).stats.payments).toBe(before.payments)
      yield* rollHourly
      const after = yield* served
      const expected = yield* raw
      expect(after.stats.payments).toBe(before.payments + 1)
      expect(after.stats.revenue).toEqual(expected.revenue)
      expect(after.consumers.items.some((c) => c.agent_id === "ra-late")).toBe(true)
    }))

  it.effect("a damaged rollup day is rebuilt", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`DELETE FROM console_agent_daily WHERE gateway_id = 'rv-g1'`
      yield* sql`UPDATE console_rollup_days SET payments = payments + 1 WHERE gateway_id = 'rv-g1'`
      const { stats } = yield* served
      expect(stats.revenue).toEqual((yield* raw).revenue)
    }))
})
