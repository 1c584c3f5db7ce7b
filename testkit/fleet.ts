/**
 * A simulated fleet of gateways producing realistic events, typed by the contract
 * (`CloudEventJson` and each type's `Encoded` data), so a contract change breaks the
 * load generator at compile time instead of silently sending stale shapes.
 * In `testkit/` because both the load generators (`load/`) and the fault
 * scenarios the tests run (`testkit/faults/`) send its events; `load/` is never imported by a test.
 */
import type { CloudEventJson } from "../schema/CloudEvent.js"
import type {
  GatewayTelemetryPacket,
  PaymentAuthorized,
  PaymentIntent,
  RequestBlocked,
  SolvencyAlert
} from "../schema/events/index.js"

export type Kind = "payment" | "blocked" | "solvency" | "intent" | "telemetry" | "unknown"

export const TYPE_OF: Record<Kind, string> = {
  payment: "PaymentAuthorized",
  blocked: "RequestBlocked",
  solvency: "SolvencyAlert",
  intent: "PaymentIntent",
  telemetry: "GatewayTelemetryPacket",
  unknown: "GatewayHeartbeat"
}

export const parseMix = (spec: string): ReadonlyArray<readonly [Kind, number]> =>
  spec.split(",").map((part) => {
    const [kind, weight] = part.split("=")
    if (!kind || !(kind in TYPE_OF) || !weight || !(Number(weight) >= 0)) throw new Error(`bad --mix entry "${part}"`)
    return [kind as Kind, Number(weight)] as const
  })

const ROUTES = ["/v1/weather/{city}", "/v1/translate", "/v1/search", "/v1/images/render", "/v1/quotes/{symbol}"]
const METHODS = ["GET", "POST", "GET", "POST", "GET"] as const
const STATUSES = ["pending", "submitted", "settled", "failed", "expired"] as const

export class Fleet {
  private seq = 0
  private readonly total: number
  private readonly intentsOpen: Array<{ id: string; gateway: string; agent: string; step: number }> = []

  constructor(
    readonly gateways: ReadonlyArray<string>,
    private readonly agents: number,
    private readonly mix: ReadonlyArray<readonly [Kind, number]>,
    private readonly runId: string
  ) {
    this.total = mix.reduce((sum, [, weight]) => sum + weight, 0)
  }

  private pick(): Kind {
    let r = Math.random() * this.total
    for (const [kind, weight] of this.mix) {
      if ((r -= weight) < 0) return kind
    }
    return this.mix[0]![0]
  }

  /** One batch for one gateway, `size` events, times around now. */
  batch(gateway: string, size: number): Array<CloudEventJson> {
    return Array.from({ length: size }, () => this.event(gateway, this.pick()))
  }

  event(gateway: string, kind: Kind): CloudEventJson {
    const n = ++this.seq
    const id = `${this.runId}-${n}`
    const agent = `agent-${Math.floor(Math.random() * this.agents)}`
    const r = n % ROUTES.length
    const time = new Date().toISOString()
    const envelope = { specversion: "1.0" as const, id, source: `machpay://gateway/${gateway}`, type: TYPE_OF[kind], time }
    switch (kind) {
      case "payment":
        return { ...envelope, data: {
          gateway_id: gateway, payment_id: `pay_${id}`, request_id: `req_${id}`, agent_id: agent, method: METHODS[r]!,
          route: ROUTES[r]!, amount: (Math.floor(Math.random() * 5000) / 1000).toFixed(3), asset: "USDC", network: "base",
          payer: `0x${n.toString(16).padStart(40, "0")}`, scheme: "exact"
        } satisfies typeof PaymentAuthorized.Encoded }
      case "blocked":
        return { ...envelope, data: {
          gateway_id: gateway, request_id: `req_${id}`, agent_id: agent, method: METHODS[r]!, route: ROUTES[r]!,
          reason: "insufficient_funds", severity: "medium", detail: "balance too low"
        } satisfies typeof RequestBlocked.Encoded }
      case "solvency":
        return { ...envelope, data: {
          gateway_id: gateway, agent_id: agent, kind: "low_balance", severity: "warning", asset: "USDC", network: "base",
          balance: "1.5", threshold: "5"
        } satisfies typeof SolvencyAlert.Encoded }
      case "intent": {
        // Intents progress over later events: reuse open intents so transitions happen.
        const open = this.intentsOpen.find((i) => i.gateway === gateway && i.step < 2 && Math.random() < 0.7)
        const intent = open ?? { id: `int_${id}`, gateway, agent, step: -1 }
        if (!open) this.intentsOpen.push(intent)
        intent.step += 1
        const status = intent.step === 0 ? "pending" : intent.step === 1 ? "submitted" : STATUSES[2 + (n % 3)]!
        if (this.intentsOpen.length > 5000) this.intentsOpen.splice(0, 1000)
        return { ...envelope, data: {
          gateway_id: gateway, intent_id: intent.id, agent_id: intent.agent, status, amount: "2.5", asset: "USDC",
          network: "base"
        } satisfies typeof PaymentIntent.Encoded }
      }
      case "telemetry":
        return { ...envelope, data: {
          gateway_id: gateway, packet_id: `pkt_${id}`, window_start: time, window_seconds: 60, gateway_version: "1.4.2",
          requests_total: 1200, requests_paid: 1100, requests_blocked: 40, requests_error: 12, payments_count: 1100,
          unique_agents: 35, revenue: "275.5", asset: "USDC",
          latency_ms: { p50: 42, p90: 88, p95: 120, p99: 240, max: 900 },
          routes: [{ method: "GET", route: ROUTES[0]!, requests: 1200, paid: 1100, blocked: 40, errors: 12, revenue: "275.5",
            latency_p50_ms: 42, latency_p99_ms: 240 }]
        } satisfies typeof GatewayTelemetryPacket.Encoded }
      case "unknown":
        return { ...envelope, data: { gateway_id: gateway, uptime_s: n } }
    }
  }
}
