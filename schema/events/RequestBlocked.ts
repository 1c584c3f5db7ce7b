import { Schema } from "effect"
import { AgentId, GatewayId, Identifier } from "../Ids.js"
import { HttpMethod, MaxString, OneOf, Route } from "../Primitives.js"

export const BlockReason = OneOf(
  "insufficient_funds",
  "invalid_payment",
  "invalid_signature",
  "expired_authorization",
  "replay_detected",
  "rate_limited",
  "policy_denied",
  "unknown_agent",
  "other"
).annotations({ description: "Why the request was blocked." })
export type BlockReason = typeof BlockReason.Type

export const BlockSeverity = OneOf("low", "medium", "high", "critical").annotations({
  description: "How serious the block is."
})
export type BlockSeverity = typeof BlockSeverity.Type

/** A gateway refused a request. */
export const RequestBlocked = Schema.Struct({
  gateway_id: GatewayId.annotations({ description: "Gateway that blocked the request." }),
  request_id: Identifier.annotations({ description: "Id of the blocked HTTP request." }),
  agent_id: Schema.optionalWith(AgentId.annotations({ description: "Agent, when the caller was identified." }), {
    exact: true
  }),
  method: HttpMethod,
  route: Route,
  reason: BlockReason,
  severity: BlockSeverity,
  detail: Schema.optionalWith(MaxString(1024).annotations({ description: "Human-readable detail." }), { exact: true }),
  client_ip: Schema.optionalWith(MaxString(64).annotations({ description: "Caller's IP address." }), { exact: true })
}).annotations({
  title: "RequestBlocked",
  description: "Data of a `RequestBlocked` event: a request was refused."
})
export type RequestBlocked = typeof RequestBlocked.Type
