/**
 * The counters behind the 60 s `GatewayTelemetryPacket`: every request the gateway served is
 * recorded once, per route, and the packet's totals are sums of the per-route counters — so
 * per-route stats always add up to the packet totals. Money is kept in micro-units (6 decimal
 * places, USDC's precision) as integers, so sums are exact.
 */
import type { GatewayConfig, GatewayTelemetryPacket } from "../schema/events/index.js"

export type PacketJson = typeof GatewayTelemetryPacket.Encoded
export type ConfigJson = typeof GatewayConfig.Encoded

export type RequestOutcome = "paid" | "blocked" | "error" | "free"

type Method = PacketJson["routes"][number]["method"]

export interface ServedRequest {
  readonly method: Method
  readonly route: string
  readonly outcome: RequestOutcome
  readonly agentId?: string
  /** Money string, for paid requests. */
  readonly amount?: string
  readonly latencyMs: number
}

interface RouteCounters {
  readonly method: Method
  readonly route: string
  requests: number
  paid: number
  blocked: number
  errors: number
  revenueMicros: bigint
  latencies: Array<number>
}

/** "2.5" → 2_500_000n; more than 6 decimals are truncated. */
export const toMicros = (amount: string): bigint => {
  const [whole = "0", fraction = ""] = amount.split(".")
  return BigInt(whole) * 1_000_000n + BigInt((fraction + "000000").slice(0, 6))
}

export const fromMicros = (micros: bigint): string => {
  const whole = micros / 1_000_000n
  const fraction = (micros % 1_000_000n).toString().padStart(6, "0").replace(/0+$/, "")
  return fraction.length === 0 ? whole.toString() : `${whole}.${fraction}`
}

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!

export class Window {
  private routes = new Map<string, RouteCounters>()
  private agents = new Set<string>()

  record(request: ServedRequest): void {
    const key = `${request.method} ${request.route}`
    let r = this.routes.get(key)
    if (r === undefined) {
      r = { method: request.method, route: request.route, requests: 0, paid: 0, blocked: 0, errors: 0, revenueMicros: 0n, latencies: [] }
      this.routes.set(key, r)
    }
    r.requests += 1
    if (request.outcome === "paid") {
      r.paid += 1
      if (request.amount !== undefined) r.revenueMicros += toMicros(request.amount)
    } else if (request.outcome === "blocked") r.blocked += 1
    else if (request.outcome === "error") r.errors += 1
    r.latencies.push(Math.max(0, request.latencyMs))
    if (request.agentId !== undefined) this.agents.add(request.agentId)
  }

  get isEmpty(): boolean {
    return this.routes.size === 0
  }

  /** The packet for this window, and a fresh window for the next one. */
  close(fields: {
    readonly gatewayId: string
    readonly packetId: string
    readonly windowStart: Date
    readonly windowSeconds: number
    readonly asset: string
    readonly gatewayVersion?: string
    readonly config?: ConfigJson
  }): PacketJson {
    const routes = [...this.routes.values()]
    const all = routes.flatMap((r) => r.latencies).sort((a, b) => a - b)
    const sum = (f: (r: RouteCounters) => number) => routes.reduce((n, r) => n + f(r), 0)
    const packet: PacketJson = {
      gateway_id: fields.gatewayId,
      packet_id: fields.packetId,
      window_start: fields.windowStart.toISOString(),
      window_seconds: Math.min(3600, Math.max(1, Math.round(fields.windowSeconds))),
      ...(fields.gatewayVersion === undefined ? {} : { gateway_version: fields.gatewayVersion }),
      requests_total: sum((r) => r.requests),
      requests_paid: sum((r) => r.paid),
      requests_blocked: sum((r) => r.blocked),
      requests_error: sum((r) => r.errors),
      payments_count: sum((r) => r.paid),
      unique_agents: this.agents.size,
      revenue: fromMicros(routes.reduce((n, r) => n + r.revenueMicros, 0n)),
      asset: fields.asset,
      latency_ms: {
        p50: percentile(all, 50),
        p90: percentile(all, 90),
        p95: percentile(all, 95),
        p99: percentile(all, 99),
        max: all[all.length - 1] ?? 0
      },
      routes: routes.slice(0, 500).map((r) => {
        const sorted = r.latencies.sort((a, b) => a - b)
        return {
          method: r.method,
          route: r.route,
          requests: r.requests,
          paid: r.paid,
          blocked: r.blocked,
          errors: r.errors,
          revenue: fromMicros(r.revenueMicros),
          latency_p50_ms: percentile(sorted, 50),
          latency_p99_ms: percentile(sorted, 99)
        }
      }),
      ...(fields.config === undefined ? {} : { config: fields.config })
    }
    this.routes = new Map()
    this.agents = new Set()
    return packet
  }
}
