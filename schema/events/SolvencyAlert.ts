import { Schema } from "effect"
import { AgentId, GatewayId } from "../Ids.js"
import { Money } from "../Money.js"
import { Asset, MaxString, Network, OneOf } from "../Primitives.js"

export const SolvencyAlertKind = OneOf("low_balance", "insufficient_balance", "allowance_exhausted").annotations({
  description: "What the gateway noticed about the agent's funds."
})
export type SolvencyAlertKind = typeof SolvencyAlertKind.Type

export const SolvencyAlertSeverity = OneOf("warning", "critical").annotations({ description: "Alert severity." })
export type SolvencyAlertSeverity = typeof SolvencyAlertSeverity.Type

/** An agent is running out of funds (or has). */
export const SolvencyAlert = Schema.Struct({
  gateway_id: GatewayId.annotations({ description: "Gateway that raised the alert." }),
  agent_id: AgentId.annotations({ description: "Agent whose funds are low." }),
  kind: SolvencyAlertKind,
  severity: SolvencyAlertSeverity,
  asset: Asset.annotations({ description: "Asset of the balance, e.g. \"USDC\"." }),
  network: Network.annotations({ description: "Network of the balance, e.g. \"base\"." }),
  balance: Money.annotations({ description: "Agent's balance when the alert was raised." }),
  threshold: Money.annotations({ description: "Balance threshold that triggered the alert." }),
  required: Schema.optionalWith(Money.annotations({ description: "Amount the refused payment needed." }), {
    exact: true
  }),
  message: Schema.optionalWith(MaxString(1024).annotations({ description: "Human-readable message." }), {
    exact: true
  })
}).annotations({
  title: "SolvencyAlert",
  description: "Data of a `SolvencyAlert` event: an agent's balance is low or exhausted."
})
export type SolvencyAlert = typeof SolvencyAlert.Type
