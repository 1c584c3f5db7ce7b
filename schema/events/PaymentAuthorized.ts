import { Schema } from "effect"
import { AgentId, GatewayId, Identifier } from "../Ids.js"
import { Money } from "../Money.js"
import { Asset, HttpMethod, MaxString, Network, Route } from "../Primitives.js"

/** A gateway verified an agent's payment and let the request through. */
export const PaymentAuthorized = Schema.Struct({
  gateway_id: GatewayId.annotations({ description: "Gateway that authorised the payment." }),
  payment_id: Identifier.annotations({ description: "Payment id, unique per gateway." }),
  request_id: Identifier.annotations({ description: "Id of the paid HTTP request." }),
  agent_id: AgentId.annotations({ description: "Agent that paid." }),
  method: HttpMethod,
  route: Route,
  amount: Money.annotations({ description: "Amount paid, in units of `asset` (decimal string)." }),
  asset: Asset.annotations({ description: "Asset the amount is paid in, e.g. \"USDC\"." }),
  network: Network.annotations({ description: "Network the payment settles on, e.g. \"base\"." }),
  payer: Schema.optionalWith(MaxString(128).annotations({ description: "Agent's wallet address." }), { exact: true }),
  pay_to: Schema.optionalWith(MaxString(128).annotations({ description: "Vendor's receiving address." }), {
    exact: true
  }),
  scheme: Schema.optionalWith(MaxString(32).annotations({ description: "Payment scheme, e.g. \"exact\"." }), {
    exact: true
  })
}).annotations({
  title: "PaymentAuthorized",
  description: "Data of a `PaymentAuthorized` event: a payment was verified and the request served."
})
export type PaymentAuthorized = typeof PaymentAuthorized.Type
