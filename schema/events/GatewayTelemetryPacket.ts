import { Arbitrary, Schema } from "effect"
import { GatewayId, Identifier } from "../Ids.js"
import { Money } from "../Money.js"
import {
  Asset,
  HttpMethod,
  IntBetween,
  JsonObject,
  MaxString,
  NonEmptyString,
  NonNegativeInt,
  NonNegativeNumber,
  Route
} from "../Primitives.js"
import { Rfc3339 } from "../Time.js"

export const MAX_ROUTES_PER_PACKET = 500
export const DEFAULT_WINDOW_SECONDS = 60

/**
 * Bounds that keep every sum the rollups and the fleet view make in range (bigint, float8, a safe
 * integer in JSON): without them one packet of 1e308 ms latencies, or about a thousand packets
 * of 2^53−1 requests, made the hourly rollup fail for every tenant. A billion requests in one
 * packet's window and a day of latency are far beyond any real gateway.
 */
export const MAX_PACKET_COUNT = 1_000_000_000
export const MAX_LATENCY_MS = 86_400_000

const count = (description: string) =>
  NonNegativeInt.pipe(Schema.lessThanOrEqualTo(MAX_PACKET_COUNT, { message: () => `must be at most ${MAX_PACKET_COUNT}` }))
    .annotations({ description })
const millis = (description: string) =>
  NonNegativeNumber.pipe(
    Schema.lessThanOrEqualTo(MAX_LATENCY_MS, { message: () => `must be at most ${MAX_LATENCY_MS} ms (one day)` })
  ).annotations({ description })

type Issue = Schema.FilterIssue

const notAbove = (
  issues: Array<Issue>,
  path: ReadonlyArray<string>,
  value: number,
  limit: number,
  limitName: string
) => {
  if (value > limit) issues.push({ path, message: `must not exceed ${limitName} (${value} > ${limit})` })
}

const Percentiles = Schema.Struct({
  p50: millis("Median latency, ms."),
  p90: millis("90th percentile latency, ms."),
  p95: millis("95th percentile latency, ms."),
  p99: millis("99th percentile latency, ms."),
  max: millis("Maximum latency, ms.")
})

// The `arbitrary` annotations below (for property tests) generate values that pass the
// cross-field filters; random ones almost never would.
export const LatencyPercentiles = Percentiles.pipe(
  Schema.filter((l) => {
    const issues: Array<Issue> = []
    notAbove(issues, ["p50"], l.p50, l.p90, "p90")
    notAbove(issues, ["p90"], l.p90, l.p95, "p95")
    notAbove(issues, ["p95"], l.p95, l.p99, "p99")
    notAbove(issues, ["p99"], l.p99, l.max, "max")
    return issues.length === 0 ? undefined : issues
  }, {
    arbitrary: () => () =>
      Arbitrary.make(Percentiles).map((l) => {
        const [p50, p90, p95, p99, max] = [l.p50, l.p90, l.p95, l.p99, l.max].sort((a, b) => a - b) as [number, number, number, number, number]
        return { p50, p90, p95, p99, max }
      })
  })
).annotations({ title: "LatencyPercentiles", description: "Upstream latency percentiles over the window, ms." })
export type LatencyPercentiles = typeof LatencyPercentiles.Type

const RouteFields = Schema.Struct({
  method: HttpMethod,
  route: Route,
  requests: count("Requests to this route in the window."),
  paid: count("Paid requests."),
  blocked: count("Blocked requests."),
  errors: count("Requests that ended in an error."),
  revenue: Money.annotations({ description: "Revenue from this route, in units of the packet's `asset`." }),
  latency_p50_ms: millis("Median latency, ms."),
  latency_p99_ms: millis("99th percentile latency, ms.")
})

export const RouteStats = RouteFields.pipe(
  Schema.filter((r) => {
    const issues: Array<Issue> = []
    notAbove(issues, ["paid"], r.paid, r.requests, "requests")
    notAbove(issues, ["blocked"], r.blocked, r.requests, "requests")
    notAbove(issues, ["errors"], r.errors, r.requests, "requests")
    notAbove(issues, ["latency_p50_ms"], r.latency_p50_ms, r.latency_p99_ms, "latency_p99_ms")
    return issues.length === 0 ? undefined : issues
  }, {
    arbitrary: () => () =>
      Arbitrary.make(RouteFields).map((r) => ({
        ...r,
        requests: Math.max(r.requests, r.paid, r.blocked, r.errors),
        latency_p50_ms: Math.min(r.latency_p50_ms, r.latency_p99_ms),
        latency_p99_ms: Math.max(r.latency_p50_ms, r.latency_p99_ms)
      }))
  })
).annotations({ title: "RouteStats", description: "Per-route counters over the window." })
export type RouteStats = typeof RouteStats.Type

export const GatewayConfig = Schema.Struct({
  revision: NonEmptyString(128).annotations({ description: "Configuration revision (changes when settings change)." }),
  settings: JsonObject.annotations({
    description: "The gateway's current settings as a JSON object, e.g. relayer_url, prices."
  })
}).annotations({ title: "GatewayConfig", description: "Gateway configuration, sent when it changed." })
export type GatewayConfig = typeof GatewayConfig.Type

const Packet = Schema.Struct({
  gateway_id: GatewayId.annotations({ description: "Gateway that measured the window." }),
  packet_id: Schema.optionalWith(Identifier.annotations({ description: "Packet id, unique per gateway." }), {
    exact: true
  }),
  window_start: Rfc3339.annotations({ description: "Start of the window (RFC 3339)." }),
  window_seconds: Schema.optionalWith(
    IntBetween(1, 3600).annotations({
      description: `Window length in seconds (1-3600); defaults to ${DEFAULT_WINDOW_SECONDS}.`,
      default: DEFAULT_WINDOW_SECONDS
    }),
    { exact: true, default: () => DEFAULT_WINDOW_SECONDS }
  ),
  gateway_version: Schema.optionalWith(MaxString(64).annotations({ description: "Gateway software version." }), {
    exact: true
  }),
  requests_total: count("All requests in the window."),
  requests_paid: count("Requests served after a verified payment."),
  requests_blocked: count("Requests refused by the gateway."),
  requests_error: count("Requests that ended in an error."),
  payments_count: count("Payments authorised in the window."),
  unique_agents: count("Distinct agents seen in the window."),
  revenue: Money.annotations({ description: "Revenue in the window, in units of `asset`." }),
  asset: Asset.annotations({ description: "Asset of `revenue`, e.g. \"USDC\"." }),
  latency_ms: LatencyPercentiles,
  routes: Schema.Array(RouteStats).annotations({ message: () => "must be an array of route stats" }).pipe(
    Schema.maxItems(MAX_ROUTES_PER_PACKET, {
      message: () => `must hold at most ${MAX_ROUTES_PER_PACKET} routes`
    })
  ).annotations({ description: `Per-route stats (at most ${MAX_ROUTES_PER_PACKET} routes).` }),
  config: Schema.optionalWith(GatewayConfig, { exact: true })
}).annotations({ title: "GatewayTelemetryPacket" })

/** The 60 s telemetry window a gateway sends (as an event or as a bare JSON body). */
export const GatewayTelemetryPacket = Packet.pipe(
  Schema.filter((p) => {
    const issues: Array<Issue> = []
    notAbove(issues, ["requests_paid"], p.requests_paid, p.requests_total, "requests_total")
    notAbove(issues, ["requests_blocked"], p.requests_blocked, p.requests_total, "requests_total")
    notAbove(issues, ["requests_error"], p.requests_error, p.requests_total, "requests_total")
    const routed = p.routes.reduce((sum, r) => sum + r.requests, 0)
    if (routed > p.requests_total) {
      issues.push({
        path: ["routes"],
        message: `per-route requests add up to ${routed}, more than requests_total (${p.requests_total})`
      })
    }
    return issues.length === 0 ? undefined : issues
  }, {
    arbitrary: () => () =>
      Arbitrary.make(Packet).map((p) => {
        // The first routes whose requests fit in one packet's count together.
        const routes: Array<RouteStats> = []
        let routed = 0
        for (const r of p.routes) {
          if (routed + r.requests > MAX_PACKET_COUNT) break
          routes.push(r)
          routed += r.requests
        }
        return {
          ...p,
          routes,
          requests_total: Math.max(p.requests_total, p.requests_paid, p.requests_blocked, p.requests_error, routed)
        }
      })
  })
).annotations({
  title: "GatewayTelemetryPacket",
  description: "A gateway's telemetry for one window (normally 60 s)."
})
export type GatewayTelemetryPacket = typeof GatewayTelemetryPacket.Type
export type GatewayTelemetryPacketJson = typeof GatewayTelemetryPacket.Encoded
