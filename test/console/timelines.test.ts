/**
 * The merged, keyset-paginated timelines — vendor alerts (blocked requests + solvency alerts)
 * and agent activity (payments, intents, blocks, alerts) — including rows of different sources
 * at the same instant, filters; and the admin gateway health list.
 */
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { ConsoleTestLayer, insertPayments, insertVendor, send, token } from "./support.js"

const vendor = token({ role: "vendor", vendorId: "tv" })
const agent = token({ role: "agent", agentId: "ta" })
const admin = token({ role: "admin", subject: "ops" })

interface Item {
  readonly kind?: string
  readonly type?: string
  readonly severity?: string
  readonly agent_id?: string | null
  readonly event_time?: string
  readonly time?: string
}

const collect = (path: string, bearer: string, limit: number) =>
  Effect.gen(function*() {
    const items: Array<Item> = []
    let cursor: string | null = null
    do {
      const sep = path.includes("?") ? "&" : "?"
      const response = yield* send("GET", `${path}${sep}limit=${limit}${cursor === null ? "" : `&cursor=${cursor}`}`, { bearer })
      expect(response.status, JSON.stringify(response.body)).toBe(200)
      const page = response.body as { readonly items: ReadonlyArray<Item>; readonly next_cursor: string | null }
      items.push(...page.items)
      cursor = page.next_cursor
    } while (cursor !== null)
    return items
  })

const descending = (times: ReadonlyArray<string>) => {
  const ms = times.map((t) => Date.parse(t))
  expect([...ms].sort((a, b) => b - a)).toEqual(ms)
}

layer(ConsoleTestLayer, { excludeTestServices: true })("console timelines", (it) => {
  it.effect("fixtures", () =>
    Effect.gen(function*() {
      yield* insertVendor("tv", ["tv-g1", "tv-g2"])
      yield* insertVendor("ov", ["ov-g1"])
      const sql = yield* SqlClient.SqlClient
      // 30 blocked requests and 30 solvency alerts; each pair shares its event_time.
      yield* sql`
        INSERT INTO request_blocked (event_time, received_at, source, event_id, gateway_id, agent_id, request_id, method,
                                     route, reason, severity)
        SELECT date_trunc('second', now()) - (i / 2) * interval '1 minute', now(), 't', 'rb' || i,
               CASE WHEN i % 3 = 0 THEN 'ov-g1' WHEN i % 2 = 0 THEN 'tv-g1' ELSE 'tv-g2' END,
               CASE WHEN i % 2 = 0 THEN 'ta' ELSE NULL END, 'r' || i, 'GET', '/x', 'insufficient_funds',
               (ARRAY['low', 'medium', 'high', 'critical'])[1 + i % 4]
          FROM generate_series(0, 44) i`
      yield* sql`
        INSERT INTO solvency_alerts (event_time, received_at, source, event_id, gateway_id, agent_id, kind, severity, asset,
                                     network, balance, threshold)
        SELECT date_trunc('second', now()) - (i / 2) * interval '1 minute', now(), 't', 'sa' || i,
               CASE WHEN i % 2 = 0 THEN 'tv-g1' ELSE 'tv-g2' END, CASE WHEN i % 2 = 0 THEN 'ta' ELSE 'tb' END,
               'low_balance', CASE WHEN i % 5 = 0 THEN 'critical' ELSE 'warning' END, 'USDC', 'base', 1.5, 2
          FROM generate_series(0, 29) i`
      yield* sql`
        INSERT INTO payment_intents (intent_id, gateway_id, agent_id, status, status_rank, amount, asset, network,
                                     created_at, updated_at, last_event_time, received_at)
        SELECT 'int' || i, 'tv-g1', 'ta', 'settled', 2, 0.5, 'USDC', 'base', now() - interval '1 hour',
               date_trunc('second', now()) - (i / 2) * interval '1 minute', now(), now()
          FROM generate_series(0, 19) i`
      // One intent id used by three gateways at the same second (intent ids are per gateway).
      yield* sql`
        INSERT INTO payment_intents (intent_id, gateway_id, agent_id, status, status_rank, amount, asset, network,
                                     created_at, updated_at, last_event_time, received_at)
        SELECT 'int-same', g, 'ta', 'settled', 2, 0.5, 'USDC', 'base', now() - interval '1 hour',
               date_trunc('second', now()) - interval '90 seconds', now(), now()
          FROM unnest(ARRAY['tv-g1', 'tv-g2', 'ov-g1']) g`
      yield* insertPayments(Array.from({ length: 25 }, (_, i) => ({
        gateway: i % 2 === 0 ? "tv-g1" : "ov-g1",
        agent: "ta",
        time: new Date(Math.floor(Date.now() / 1000) * 1000 - Math.floor(i / 2) * 60_000).toISOString()
      })))
    }))

  it.effect("vendor alerts: both kinds merged newest first, each exactly once, only the vendor's gateways", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const expected = yield* sql<{ n: number }>`
        SELECT (SELECT count(*) FROM request_blocked WHERE gateway_id LIKE 'tv-%')
             + (SELECT count(*) FROM solvency_alerts WHERE gateway_id LIKE 'tv-%') AS n`
      const all = yield* collect("/v1/vendor/alerts", vendor, 7)
      expect(all.length).toBe(Number(expected[0]?.n))
      descending(all.map((a) => a.event_time ?? ""))
      const keys = all.map((a) => JSON.stringify(a))
      expect(new Set(keys).size).toBe(keys.length)
      const blocked = yield* collect("/v1/vendor/alerts?kind=request_blocked&severity=high", vendor, 5)
      expect(blocked.every((a) => a.kind === "request_blocked" && a.severity === "high")).toBe(true)
      expect(blocked.length).toBe(all.filter((a) => a.kind === "request_blocked" && a.severity === "high").length)
      const warnings = yield* collect("/v1/vendor/alerts?severity=warning", vendor, 50)
      expect(warnings.every((a) => a.kind === "solvency_alert")).toBe(true)
      const critical = yield* collect("/v1/vendor/alerts?severity=critical", vendor, 50)
      expect(new Set(critical.map((a) => a.kind))).toEqual(new Set(["request_blocked", "solvency_alert"]))
      const forAgent = yield* collect("/v1/vendor/alerts?agent_id=ta", vendor, 4)
      expect(forAgent.length).toBe(all.filter((a) => a.agent_id === "ta").length)
    }))

  it.effect("agent activity: four sources merged newest first, each exactly once, filterable by type", () =>
    Effect.gen(function*() {
      const all = yield* collect("/v1/agent/activity", agent, 9)
      const counts = all.reduce<Record<string, number>>((acc, i) => ({ ...acc, [i.type ?? ""]: (acc[i.type ?? ""] ?? 0) + 1 }), {})
      expect(counts).toEqual({ payment: 25, intent: 23, request_blocked: 23, solvency_alert: 15 })
      descending(all.map((a) => a.time ?? ""))
      const keys = all.map((a) => JSON.stringify(a))
      expect(new Set(keys).size).toBe(keys.length)
      const intents = yield* collect("/v1/agent/activity?type=intent", agent, 6)
      expect(intents.length).toBe(23)
      // Pages of one: the three gateways' "int-same" (same id, same time) each come once.
      const single = yield* collect("/v1/agent/activity?type=intent", agent, 1)
      expect(single.map((i) => JSON.stringify(i))).toEqual(intents.map((i) => JSON.stringify(i)))
      const same = single.filter((i) => (i as { intent_id?: string }).intent_id === "int-same")
      expect(same.map((i) => (i as { gateway_id?: string }).gateway_id).sort()).toEqual(["ov-g1", "tv-g1", "tv-g2"])
      const wrong = yield* send("GET", "/v1/agent/activity?type=refund", { bearer: agent })
      expect(wrong.status).toBe(400)
      const crossed = yield* send("GET", "/v1/vendor/payments?cursor=" + Buffer.from(JSON.stringify(["activity", ["2025-01-01T00:00:00Z", 1, "1"]])).toString("base64url"), { bearer: vendor })
      expect(crossed.status).toBe(400)
    }))

  it.effect("admin gateways: status from last_seen_at, counts, pagination, vendor filter", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE gateways SET last_seen_at = now() - interval '10 minutes' WHERE id = 'tv-g2'`
      yield* sql`UPDATE gateways SET last_seen_at = NULL WHERE id = 'ov-g1'`
      yield* sql`INSERT INTO gateway_telemetry (window_start, gateway_id, source, event_id, received_at, window_seconds,
                                                requests_total, requests_error, routes)
                 VALUES (now() - interval '2 minutes', 'tv-g1', 't', 'p1', now(), 60, 600, 6, '[]'),
                        (now() - interval '1 minute', 'tv-g1', 't', 'p2', now(), 60, 600, 0, '[]')`
      const response = yield* send("GET", "/v1/admin/gateways", { bearer: admin })
      const page = response.body as {
        readonly counts: Record<string, number>
        readonly items: ReadonlyArray<{
          readonly id: string
          readonly status: string
          readonly telemetry_lag_seconds: number | null
          readonly recent: { readonly requests: number; readonly error_rate: number | null; readonly requests_per_second: number }
        }>
      }
      expect(page.counts).toEqual({ healthy: 1, stale: 1, silent: 1 })
      expect(page.items.map((g) => [g.id, g.status])).toEqual([["ov-g1", "silent"], ["tv-g1", "healthy"], ["tv-g2", "stale"]])
      const g1 = page.items.find((g) => g.id === "tv-g1")
      expect(g1?.recent.requests).toBe(1200)
      expect(g1?.recent.error_rate).toBeCloseTo(0.005, 10)
      expect(g1?.recent.requests_per_second).toBeCloseTo(4, 10)
      expect(g1?.telemetry_lag_seconds).toBeLessThan(5)
      const stale = yield* collect("/v1/admin/gateways?status=stale", admin, 1)
      expect(stale.length).toBe(1)
      const paged = yield* collect("/v1/admin/gateways", admin, 1)
      expect(paged.length).toBe(3)
      const mine = yield* send("GET", "/v1/admin/gateways?vendor_id=tv", { bearer: admin })
      expect((mine.body as typeof page).items.map((g) => g.id)).toEqual(["tv-g1", "tv-g2"])
    }))
})
