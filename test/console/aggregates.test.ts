/**
 * Aggregates checked against a recomputation from the raw rows: stats, revenue history
 * (zero-filled buckets), consumers (every sort, paged), agent spending, and metrics — where
 * the rollup rows deliberately disagree with their packets, so the expected totals prove
 * which source each hour was read from (rollup for covered whole hours, packets otherwise).
 */
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { GatewayId } from "../../schema/Ids.js"
import { ConsoleTestLayer, clientFor, insertPayments, insertVendor, token } from "./support.js"

const HOUR = 3_600_000
const DAY = 24 * HOUR
const now = Date.now()
const iso = (ms: number) => new Date(ms).toISOString()
const from = iso(Math.floor((now - 5 * DAY) / DAY) * DAY)
const to = iso(now)
/** An hour with a single payment, well before the others. */
const lonelyHour = Math.floor((now - 10 * DAY) / HOUR) * HOUR

const vendor = token({ role: "vendor", vendorId: "av" })

/** Sum of decimal strings, exactly (scaled to 18 places). */
const decimalSum = (values: ReadonlyArray<string>): string => {
  const scaled = values.reduce((sum, v) => {
    const [int = "0", frac = ""] = v.split(".")
    return sum + BigInt(int) * 10n ** 18n + BigInt(frac.padEnd(18, "0"))
  }, 0n)
  const int = scaled / 10n ** 18n
  const frac = (scaled % 10n ** 18n).toString().padStart(18, "0").replace(/0+$/, "")
  return frac.length > 0 ? `${int}.${frac}` : `${int}`
}

const rawTotals = (vendorId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ asset: string; amount: string; payments: number }>`
      SELECT p.asset, trim_scale(sum(p.amount))::text AS amount, count(*)::int AS payments
        FROM payment_authorized p JOIN gateways g ON g.id = p.gateway_id
       WHERE g.vendor_id = ${vendorId} AND p.event_time >= ${from}::timestamptz AND p.event_time < ${to}::timestamptz
       GROUP BY p.asset ORDER BY p.asset`)

layer(ConsoleTestLayer, { excludeTestServices: true })("console aggregates", (it) => {
  it.effect("fixtures", () =>
    Effect.gen(function*() {
      yield* insertVendor("av", ["av-g1", "av-g2"])
      yield* insertVendor("bv", ["bv-g1"])
      yield* insertPayments(Array.from({ length: 300 }, (_, i) => ({
        gateway: i % 4 === 0 ? "av-g2" : "av-g1",
        agent: `ag-${i % 20}`,
        time: iso(now - Math.floor((i * 5 * DAY) / 300) - 1000),
        amount: ((i % 13) * 0.0375 + 0.01).toFixed(4),
        asset: i % 10 === 0 ? "EURC" : "USDC",
        route: i % 3 === 0 ? "/v1/a" : "/v1/b"
      })))
      // Outside the vendor or the range: must never count.
      yield* insertPayments([
        { gateway: "bv-g1", agent: "ag-1", time: iso(now - HOUR), amount: "1000" },
        { gateway: "av-g1", agent: "ag-1", time: iso(now - 40 * DAY), amount: "1000" },
        { gateway: "av-g1", agent: "ag-2", time: iso(lonelyHour + 30 * 60_000), amount: "2.5" }
      ])
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO request_blocked (event_time, received_at, source, event_id, gateway_id, agent_id, request_id,
                                              method, route, reason, severity)
                 SELECT now() - i * interval '1 hour', now(), 't', 'b' || i, CASE WHEN i % 2 = 0 THEN 'av-g1' ELSE 'bv-g1' END,
                        'ag-1', 'r' || i, 'GET', '/v1/a', 'insufficient_funds', 'high'
                   FROM generate_series(1, 10) i`
    }))

  it.effect("stats match the raw payments of the vendor's gateways", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(vendor)
      const stats = yield* client.consoleVendor.stats({ urlParams: { from, to } })
      const sql = yield* SqlClient.SqlClient
      const agents = yield* sql<{ n: number }>`
        SELECT count(DISTINCT agent_id)::int AS n FROM payment_authorized
         WHERE gateway_id IN ('av-g1', 'av-g2') AND event_time >= ${from}::timestamptz AND event_time < ${to}::timestamptz`
      expect(stats.revenue).toEqual(yield* rawTotals("av"))
      expect(stats.payments).toBe(300)
      expect(stats.unique_agents).toBe(agents[0]?.n)
      expect(stats.blocked_requests).toBe(5)
      expect(stats.gateways).toBe(2)
      const one = yield* client.consoleVendor.stats({ urlParams: { from, to, gateway_id: GatewayId.make("av-g2") } })
      expect(one.payments).toBe(75)
    }))

  it.effect("revenue history is zero-filled and adds up to the stats", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(vendor)
      const daily = yield* client.consoleVendor.revenueHistory({ urlParams: { from, to } })
      expect(daily.points.length).toBe(6)
      expect(daily.points[0]?.time).toBe(from.replace(".000Z", "Z"))
      for (const point of daily.points) expect(point.revenue.map((r) => r.asset)).toEqual(["EURC", "USDC"])
      const totals = yield* rawTotals("av")
      for (const total of totals) {
        const amounts = daily.points.map((p) => p.revenue.find((r) => r.asset === total.asset)?.amount ?? "0")
        expect(decimalSum(amounts)).toBe(total.amount)
      }
      expect(daily.points.reduce((n, p) => n + p.payments, 0)).toBe(300)
      const hourly = yield* client.consoleVendor.revenueHistory({
        urlParams: { granularity: "hour", from: iso(now - 48 * HOUR), to }
      })
      expect(hourly.points.length).toBe(49)
      const lonely = yield* client.consoleVendor.revenueHistory({
        urlParams: { granularity: "hour", from: iso(lonelyHour - HOUR), to: iso(lonelyHour + 2 * HOUR) }
      })
      expect(lonely.points.map((p) => [p.payments, p.revenue])).toEqual([
        [0, [{ asset: "USDC", amount: "0", payments: 0 }]],
        [1, [{ asset: "USDC", amount: "2.5", payments: 1 }]],
        [0, [{ asset: "USDC", amount: "0", payments: 0 }]]
      ])
      const empty = yield* client.consoleVendor.revenueHistory({
        urlParams: { from: "2020-01-01T00:00:00Z", to: "2020-01-04T00:00:00Z" }
      })
      expect(empty.points.map((p) => [p.time, p.payments, p.revenue])).toEqual([
        ["2020-01-01T00:00:00Z", 0, []],
        ["2020-01-02T00:00:00Z", 0, []],
        ["2020-01-03T00:00:00Z", 0, []]
      ])
    }))

  for (const sort of ["spend", "payments", "last_seen", "first_seen"] as const) {
    it.effect(`consumers sorted by ${sort}: every agent once, in order, adding up to the stats`, () =>
      Effect.gen(function*() {
        const client = yield* clientFor(vendor)
        const all: Array<{ agent_id: string; payments: number; spend: ReadonlyArray<{ asset: string; amount: string }>; key: number }> = []
        let cursor: string | undefined
        do {
          const page = yield* client.consoleVendor.consumers({
            urlParams: { from, to, sort, limit: 7, ...(cursor === undefined ? {} : { cursor }) }
          })
          for (const c of page.items) {
            const key = sort === "spend"
              ? c.spend.reduce((n, s) => n + Number(s.amount), 0)
              : sort === "payments"
              ? c.payments
              : Date.parse(sort === "last_seen" ? c.last_seen : c.first_seen)
            all.push({ ...c, key })
          }
          cursor = page.next_cursor ?? undefined
        } while (cursor !== undefined)
        expect(all.length).toBe(20)
        expect(new Set(all.map((c) => c.agent_id)).size).toBe(20)
        for (let i = 1; i < all.length; i++) expect(all[i - 1]!.key).toBeGreaterThanOrEqual(all[i]!.key - 1e-9)
        expect(all.reduce((n, c) => n + c.payments, 0)).toBe(300)
        for (const total of yield* rawTotals("av")) {
          const amounts = all.flatMap((c) => c.spend.filter((s) => s.asset === total.asset).map((s) => s.amount))
          expect(decimalSum(amounts)).toBe(total.amount)
        }
      }))
  }

  it.effect("agent spending matches the agent's raw payments", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(token({ role: "agent", agentId: "ag-1" }))
      const sql = yield* SqlClient.SqlClient
      const raw = yield* sql<{ asset: string; amount: string; payments: number }>`
        SELECT asset, trim_scale(sum(amount))::text AS amount, count(*)::int AS payments FROM payment_authorized
         WHERE agent_id = 'ag-1' AND event_time >= ${from}::timestamptz AND event_time < ${to}::timestamptz
         GROUP BY asset ORDER BY asset`
      for (const group_by of ["vendor", "gateway", "endpoint"] as const) {
        const spending = yield* client.consoleAgent.spending({ urlParams: { from, to, group_by } })
        expect(spending.totals).toEqual(raw)
        expect(spending.truncated).toBe(false)
        for (const total of raw) {
          const rows = spending.items.filter((i) => i.asset === total.asset)
          expect(decimalSum(rows.map((r) => r.amount)), group_by).toBe(total.amount)
          expect(rows.reduce((n, r) => n + r.payments, 0)).toBe(total.payments)
        }
      }
      const byVendor = yield* client.consoleAgent.spending({ urlParams: { from, to } })
      expect(new Set(byVendor.items.map((i) => i.vendor_id))).toEqual(new Set(["av", "bv"]))
    }))
})
