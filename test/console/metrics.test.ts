/**
 * Metrics read whole, rolled-up hours from `gateway_stats_hourly` and everything else from the
 * raw packets. The rollup rows here deliberately disagree with their packets (+1000 requests),
 * so the expected figures prove which source each hour came from.
 */
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { GatewayId } from "../../schema/Ids.js"
import { ConsoleTestLayer, clientFor, insertVendor, token } from "./support.js"

const HOUR = 3_600_000
const now = Date.now()
const currentHour = Math.floor(now / HOUR) * HOUR
const iso = (ms: number) => new Date(ms).toISOString()

interface Packet {
  readonly gateway: string
  readonly start: number
  readonly requests: number
  readonly errors: number
  readonly p99: number
}

/** One packet a minute from 5 hours before the current hour until now, on both gateways. */
const packets: ReadonlyArray<Packet> = ["mg1", "mg2"].flatMap((gateway) =>
  Array.from({ length: Math.floor((now - (currentHour - 5 * HOUR)) / 60_000) }, (_, i) => ({
    gateway,
    start: currentHour - 5 * HOUR + i * 60_000,
    requests: 10 + (i % 7),
    errors: i % 3,
    p99: 100 + (i % 50)
  }))
)

/** mg1 is rolled up for the hours -5 … -2 (not -1: the job lags); mg2 never. */
const rolledHours = [5, 4, 3, 2].map((h) => currentHour - h * HOUR)
const rollupRequests = (hour: number) =>
  packets.filter((p) => p.gateway === "mg1" && p.start >= hour && p.start < hour + HOUR).reduce((n, p) => n + p.requests, 0) + 1000

const expectedRequests = (fromMs: number, toMs: number) => {
  let total = 0
  for (const hour of rolledHours) if (hour >= fromMs && hour + HOUR <= toMs) total += rollupRequests(hour)
  for (const p of packets) {
    if (p.start < fromMs || p.start >= toMs) continue
    const hour = Math.floor(p.start / HOUR) * HOUR
    const covered = p.gateway === "mg1" && rolledHours.includes(hour) && hour >= fromMs && hour + HOUR <= toMs
    if (!covered) total += p.requests
  }
  return total
}

layer(ConsoleTestLayer, { excludeTestServices: true })("vendor metrics", (it) => {
  it.effect("fixtures", () =>
    Effect.gen(function*() {
      yield* insertVendor("mv", ["mg1", "mg2"])
      yield* insertVendor("other", ["og1"])
      const sql = yield* SqlClient.SqlClient
      const all = [...packets, { gateway: "og1", start: currentHour - HOUR, requests: 99999, errors: 0, p99: 1 }]
      yield* sql`
        INSERT INTO gateway_telemetry (window_start, gateway_id, source, event_id, received_at, window_seconds,
                                       requests_total, requests_paid, requests_error, latency_p50_ms, latency_p99_ms,
                                       latency_max_ms, routes)
        SELECT s, gw, 'test', gw || '-' || extract(epoch FROM s)::bigint, now(), 60, req, req / 2, err, 20, p99, p99 + 5,
               jsonb_build_array(
                 jsonb_build_object('method', 'GET', 'route', '/v1/a', 'requests', req - 2, 'paid', 1, 'blocked', 0,
                                    'errors', err, 'revenue', '0.1', 'latency_p50_ms', 10, 'latency_p99_ms', p99),
                 jsonb_build_object('method', 'POST', 'route', '/v1/b', 'requests', 2, 'paid', 0, 'blocked', 1,
                                    'errors', 0, 'revenue', '0', 'latency_p50_ms', 30, 'latency_p99_ms', 40))
          FROM unnest(${all.map((p) => iso(p.start))}::timestamptz[], ${all.map((p) => p.gateway)}::text[],
                      ${all.map((p) => p.requests)}::int[], ${all.map((p) => p.errors)}::int[], ${all.map((p) => p.p99)}::float8[])
               AS x(s, gw, req, err, p99)`
      for (const hour of rolledHours) {
        yield* sql`INSERT INTO gateway_stats_hourly (gateway_id, hour, packets, requests_total, requests_error, latency_p50_ms,
                                                     latency_p99_ms, latency_max_ms)
                   VALUES ('mg1', ${iso(hour)}::timestamptz, 60, ${rollupRequests(hour)}, 0, 20, 500, 505)`
      }
    }))

  it.effect("whole rolled-up hours come from the rollup, the rest from packets", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(token({ role: "vendor", vendorId: "mv" }))
      const fromMs = currentHour - 5 * HOUR
      const m = yield* client.consoleVendor.metrics({ urlParams: { from: iso(fromMs), to: iso(now) } })
      expect(m.totals.requests).toBe(expectedRequests(fromMs, now))
      // mg2 is never rolled up, so every hour holds packets…
      expect(m.series.map((p) => p.source)).toEqual(["live", "live", "live", "live", "live", "live"])
      // …while mg1 alone reads the hours its rollup covers from the rollup.
      const mg1 = yield* client.consoleVendor.metrics({
        urlParams: { from: iso(fromMs), to: iso(now), gateway_id: GatewayId.make("mg1") }
      })
      expect(mg1.series.map((p) => p.source)).toEqual(["rollup", "rollup", "rollup", "rollup", "live", "live"])
      expect(mg1.series.slice(0, 4).map((p) => p.requests)).toEqual(rolledHours.map(rollupRequests))
      expect(m.series.reduce((n, p) => n + p.requests, 0)).toBe(m.totals.requests)
      expect(m.totals.latency_p99_ms).toBe(500)
      expect(m.totals.error_rate).toBeCloseTo(m.totals.errors / m.totals.requests, 12)
      // A range starting mid-hour reads that partial hour from packets, not from its rollup row.
      const midMs = fromMs + 30 * 60_000
      const partial = yield* client.consoleVendor.metrics({ urlParams: { from: iso(midMs), to: iso(now) } })
      expect(partial.totals.requests).toBe(expectedRequests(midMs, now))
      expect(partial.series[0]?.source).toBe("live")
    }))

  it.effect("a rolled-up hour with late data not re-rolled yet (dirty or claimed) is read from packets", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const client = yield* clientFor(token({ role: "vendor", vendorId: "mv" }))
      const fromMs = currentHour - 5 * HOUR
      const query = { urlParams: { from: iso(fromMs), to: iso(now), gateway_id: GatewayId.make("mg1") } }
      const [first, second] = rolledHours
      yield* sql`INSERT INTO rollup_dirty (gateway_id, hour) VALUES ('mg1', ${iso(first!)}::timestamptz)`
      yield* sql`INSERT INTO rollup_claimed (gateway_id, hour, marked_at) VALUES ('mg1', ${iso(second!)}::timestamptz, now())`
      const m = yield* client.consoleVendor.metrics(query)
      const packetsOf = (hour: number) =>
        packets.filter((p) => p.gateway === "mg1" && p.start >= hour && p.start < hour + HOUR).reduce((n, p) => n + p.requests, 0)
      expect(m.series.slice(0, 2).map((p) => [p.source, p.requests])).toEqual([["live", packetsOf(first!)], ["live", packetsOf(second!)]])
      expect(m.series[2]?.source).toBe("rollup")
      yield* sql`DELETE FROM rollup_dirty WHERE gateway_id = 'mg1'`
      yield* sql`DELETE FROM rollup_claimed WHERE gateway_id = 'mg1'`
    }))

  it.effect("a range shorter than an hour: the per-route window is the range itself, its bounds to the microsecond", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(token({ role: "vendor", vendorId: "mv" }))
      const from = `${iso(now - 30 * 60_000).slice(0, 23)}417Z`
      const m = yield* client.consoleVendor.metrics({ urlParams: { from, to: iso(now) } })
      expect(m.from).toBe(from)
      expect(m.routes.from).toBe(m.from)
      expect(m.routes.to).toBe(m.to)
    }))

  it.effect("per-route figures cover the last hour of the range, from packets", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(token({ role: "vendor", vendorId: "mv" }))
      const m = yield* client.consoleVendor.metrics({ urlParams: {} })
      const last = packets.filter((p) => p.start >= Date.parse(m.routes.from) && p.start < Date.parse(m.routes.to))
      expect(m.routes.items.map((r) => [r.method, r.route])).toEqual([["GET", "/v1/a"], ["POST", "/v1/b"]])
      expect(m.routes.items[0]?.requests).toBe(last.reduce((n, p) => n + p.requests - 2, 0))
      expect(m.routes.items[1]?.requests).toBe(last.length * 2)
      expect(m.series.length).toBe(24)
      expect(m.series.at(-1)?.source).toBe("live")
    }))

  it.effect("stats take their traffic figures from the same sources", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(token({ role: "vendor", vendorId: "mv" }))
      const fromMs = currentHour - 5 * HOUR
      const stats = yield* client.consoleVendor.stats({ urlParams: { from: iso(fromMs), to: iso(now) } })
      expect(stats.requests).toBe(expectedRequests(fromMs, now))
      expect(stats.latency_p99_ms).toBe(500)
    }))
})
