/**
 * One simulated gateway, as a fleet member behaves: agents with balances pay for requests to
 * priced routes; an agent that cannot pay is blocked (and sometimes tops up); a balance that
 * falls under the threshold raises a solvency alert; some payments open an intent that later
 * moves pending → submitted → settled | failed | expired; every request (errors included)
 * feeds the 60 s telemetry window; now and then the prices change, which is a new config
 * revision. It only decides; the caller sends through the gateway client.
 */
import type { CloudEventJson } from "../../schema/CloudEvent.js"
import type { PaymentAuthorized, RequestBlocked, SolvencyAlert } from "../../schema/events/index.js"
import type { ConfigJson, IntentJson, ServedRequest } from "../../gateway/index.js"
import { fromMicros } from "../../gateway/index.js"

const ROUTES = [
  { method: "GET", route: "/v1/weather/{city}", price: 10_000n },
  { method: "POST", route: "/v1/translate", price: 25_000n },
  { method: "GET", route: "/v1/search", price: 5_000n },
  { method: "POST", route: "/v1/images/render", price: 150_000n },
  { method: "GET", route: "/v1/quotes/{symbol}", price: 2_000n }
] as const

const THRESHOLD = 1_000_000n // 1 USDC

interface Agent {
  readonly id: string
  balance: bigint
  alerted: boolean
}

interface OpenIntent {
  readonly intent: IntentJson
  step: 0 | 1
}

export type Action =
  | { readonly _tag: "event"; readonly event: CloudEventJson }
  | { readonly _tag: "intent"; readonly intent: IntentJson }
  | { readonly _tag: "served"; readonly request: ServedRequest }
  | { readonly _tag: "config"; readonly config: ConfigJson }

export class GatewaySim {
  private seq = 0
  private revision = 1
  private readonly agents: Array<Agent>
  private readonly open: Array<OpenIntent> = []
  private prices: Array<bigint> = ROUTES.map((r) => r.price)
  readonly source: string

  constructor(readonly gatewayId: string, private readonly runId: string, agents: number, private readonly relayerUrl: string) {
    this.source = `machpay://gateway/${gatewayId}`
    this.agents = Array.from({ length: agents }, (_, i) => ({
      id: `${gatewayId}-agent-${i}`,
      balance: BigInt(Math.floor(Math.random() * 3_000_000)),
      alerted: false
    }))
  }

  config(): ConfigJson {
    return {
      revision: `r${this.revision}`,
      settings: {
        relayer_url: this.relayerUrl,
        prices: Object.fromEntries(ROUTES.map((r, i) => [`${r.method} ${r.route}`, fromMicros(this.prices[i]!)]))
      }
    }
  }

  /** A price change: a new config revision. */
  changeConfig(): ConfigJson {
    this.revision += 1
    this.prices = this.prices.map((p) => (p * BigInt(90 + Math.floor(Math.random() * 21))) / 100n)
    return this.config()
  }

  private envelope(type: string, data: unknown): CloudEventJson {
    return {
      specversion: "1.0",
      id: `${this.runId}-${this.gatewayId}-${++this.seq}`,
      source: this.source,
      type,
      time: new Date().toISOString(),
      data
    } as CloudEventJson
  }

  /** One request to the gateway, and what it leads to. */
  request(out: Array<Action>): void {
    const agent = this.agents[Math.floor(Math.random() * this.agents.length)]!
    const r = Math.floor(Math.random() * ROUTES.length)
    const route = ROUTES[r]!
    const price = this.prices[r]!
    const n = this.seq + 1
    const requestId = `req-${this.runId}-${this.gatewayId}-${n}`
    const latencyMs = Math.round(5 + Math.random() * 60 + (Math.random() < 0.02 ? 400 : 0))
    if (Math.random() < 0.02) {
      out.push({ _tag: "served", request: { method: route.method, route: route.route, outcome: "error", agentId: agent.id, latencyMs } })
      return
    }
    if (agent.balance >= price) {
      agent.balance -= price
      const amount = fromMicros(price)
      out.push({ _tag: "event", event: this.envelope("PaymentAuthorized", {
        gateway_id: this.gatewayId, payment_id: `pay-${requestId}`, request_id: requestId, agent_id: agent.id,
        method: route.method, route: route.route, amount, asset: "USDC", network: "base",
        payer: `0x${(n % 0xffffffff).toString(16).padStart(40, "0")}`, scheme: "exact"
      } satisfies typeof PaymentAuthorized.Encoded) })
      out.push({ _tag: "served", request: { method: route.method, route: route.route, outcome: "paid", amount, agentId: agent.id, latencyMs } })
      if (Math.random() < 0.05) {
        const intent: IntentJson = {
          gateway_id: this.gatewayId, intent_id: `int-${requestId}`, agent_id: agent.id, status: "pending", amount,
          asset: "USDC", network: "base", method: route.method, route: route.route
        }
        this.open.push({ intent, step: 0 })
        out.push({ _tag: "intent", intent })
      }
      if (agent.balance < THRESHOLD && !agent.alerted) {
        agent.alerted = true
        out.push({ _tag: "event", event: this.envelope("SolvencyAlert", {
          gateway_id: this.gatewayId, agent_id: agent.id, kind: "low_balance", severity: agent.balance < price ? "critical" : "warning",
          asset: "USDC", network: "base", balance: fromMicros(agent.balance), threshold: fromMicros(THRESHOLD)
        } satisfies typeof SolvencyAlert.Encoded) })
      }
    } else {
      out.push({ _tag: "event", event: this.envelope("RequestBlocked", {
        gateway_id: this.gatewayId, request_id: requestId, agent_id: agent.id, method: route.method, route: route.route,
        reason: "insufficient_funds", severity: "medium", detail: `balance ${fromMicros(agent.balance)} < price ${fromMicros(price)}`
      } satisfies typeof RequestBlocked.Encoded) })
      out.push({ _tag: "served", request: { method: route.method, route: route.route, outcome: "blocked", agentId: agent.id, latencyMs } })
      if (Math.random() < 0.3) {
        agent.balance += BigInt(1_000_000 + Math.floor(Math.random() * 4_000_000))
        agent.alerted = false
      }
    }
  }

  /** Moves some open intents one step forward. */
  advanceIntents(out: Array<Action>, share = 0.3): void {
    for (let i = this.open.length - 1; i >= 0; i--) {
      if (Math.random() > share) continue
      const open = this.open[i]!
      if (open.step === 0) {
        open.step = 1
        out.push({ _tag: "intent", intent: { ...open.intent, status: "submitted" } })
      } else {
        const roll = Math.random()
        const status = roll < 0.9 ? "settled" : roll < 0.97 ? "failed" : "expired"
        out.push({ _tag: "intent", intent: {
          ...open.intent, status,
          ...(status === "settled" ? { tx_hash: `0x${open.intent.intent_id.length.toString(16).padStart(64, "0")}` } : {}),
          ...(status === "failed" ? { failure_reason: "relayer rejected the transaction" } : {})
        } })
        this.open.splice(i, 1)
      }
    }
  }
}
