import { Schema } from "effect"
import { AgentId, GatewayId, Identifier } from "../Ids.js"
import { Money } from "../Money.js"
import { Asset, HttpMethod, MaxString, Network, OneOf, Route } from "../Primitives.js"
import { Rfc3339 } from "../Time.js"

export const IntentStatus = OneOf("pending", "submitted", "settled", "failed", "expired").annotations({
  description: "Intent status; it only moves forward: pending → submitted → settled | failed | expired."
})
export type IntentStatus = typeof IntentStatus.Type

const RANK: Readonly<Record<IntentStatus, 0 | 1 | 2>> = {
  pending: 0,
  submitted: 1,
  settled: 2,
  failed: 2,
  expired: 2
}

/** Order of statuses: 0 pending, 1 submitted, 2 terminal (settled/failed/expired). */
export const intentStatusRank = (status: IntentStatus): 0 | 1 | 2 => RANK[status]

/** True for settled, failed and expired. */
export const isTerminalIntentStatus = (status: IntentStatus): boolean => RANK[status] === 2

/** True when an intent at `current` may move to `next` (strictly forward). */
export const canAdvanceIntent = (current: IntentStatus, next: IntentStatus): boolean => RANK[next] > RANK[current]

/** A payment on its way to settlement; later events for the same intent move its status forward. */
export const PaymentIntent = Schema.Struct({
  gateway_id: GatewayId.annotations({ description: "Gateway that created the intent." }),
  intent_id: Identifier.annotations({ description: "Intent id, unique per gateway." }),
  agent_id: AgentId.annotations({ description: "Agent that pays." }),
  status: IntentStatus,
  amount: Money.annotations({ description: "Amount to settle, in units of `asset`." }),
  asset: Asset.annotations({ description: "Asset of the amount, e.g. \"USDC\"." }),
  network: Network.annotations({ description: "Network the intent settles on, e.g. \"base\"." }),
  method: Schema.optionalWith(HttpMethod, { exact: true }),
  route: Schema.optionalWith(Route, { exact: true }),
  tx_hash: Schema.optionalWith(MaxString(256).annotations({ description: "Settlement transaction hash." }), {
    exact: true
  }),
  failure_reason: Schema.optionalWith(MaxString(1024).annotations({ description: "Why the intent failed." }), {
    exact: true
  }),
  expires_at: Schema.optionalWith(Rfc3339.annotations({ description: "When the intent expires (RFC 3339)." }), {
    exact: true
  })
}).annotations({
  title: "PaymentIntent",
  description: "Data of a `PaymentIntent` event: the current status of a payment intent."
})
export type PaymentIntent = typeof PaymentIntent.Type
