/** Request and response shapes of the vendor console endpoints (`/v1/vendor/...`). */
import { Schema } from "effect"
import { AgentId, GatewayId } from "../Ids.js"
import { Money } from "../Money.js"
import { Asset, Network, OneOf } from "../Primitives.js"
import {
  Amount,
  AssetAmount,
  AssetTotal,
  CursorParam,
  FromParam,
  LimitParam,
  NextCursor,
  RangeFields,
  ToParam,
  UtcTime
} from "./ConsoleCommon.js"

const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })
const Count = (description: string) => Schema.Int.annotations({ description })
const Millis = (description: string) => Schema.NullOr(Schema.Number).annotations({ description })

const GatewayFilter = optional(GatewayId.annotations({ description: "Only this gateway (must be yours, else 404)." }))

// --- stats -------------------------------------------------------------------------------

export const StatsQuery = Schema.Struct({
  from: optional(FromParam),
  to: optional(ToParam),
  gateway_id: GatewayFilter
}).annotations({ title: "StatsQuery" })

export const VendorStats = Schema.Struct({
  ...RangeFields,
  gateways: Count("Gateways included."),
  payments: Count("Payments authorised in the range."),
  revenue: Schema.Array(AssetTotal).annotations({ description: "Revenue per asset (exact, from the payments)." }),
  unique_agents: Count("Distinct agents that paid."),
  blocked_requests: Count("Requests the gateways refused."),
  requests: Count("Requests reported by telemetry."),
  errors: Count("Requests that ended in an error (telemetry)."),
  error_rate: Schema.NullOr(Schema.Number).annotations({ description: "errors / requests; null without traffic." }),
  latency_p99_ms: Millis("Upper bound of the p99 latency (max of the hourly p99s); null without traffic.")
}).annotations({ identifier: "VendorStats" })
export type VendorStats = typeof VendorStats.Type

// --- revenue history ----------------------------------------------------------------------

export const Granularity = OneOf("day", "hour")

export const RevenueHistoryQuery = Schema.Struct({
  from: optional(FromParam),
  to: optional(ToParam),
  granularity: optional(Granularity.annotations({ description: "Bucket size (UTC); default day." })),
  gateway_id: GatewayFilter,
  asset: optional(Asset.annotations({ description: "Only payments in this asset." }))
}).annotations({ title: "RevenueHistoryQuery" })

export const RevenuePoint = Schema.Struct({
  time: UtcTime.annotations({ description: "Start of the bucket." }),
  payments: Count("Payments in the bucket."),
  revenue: Schema.Array(AssetTotal).annotations({
    description: "One entry per asset seen in the whole range (zero-filled)."
  })
}).annotations({ identifier: "RevenuePoint" })
export type RevenuePoint = typeof RevenuePoint.Type

export const RevenueHistory = Schema.Struct({
  ...RangeFields,
  granularity: Granularity,
  points: Schema.Array(RevenuePoint).annotations({ description: "Every bucket of the range, oldest first." })
}).annotations({ identifier: "RevenueHistory" })
export type RevenueHistory = typeof RevenueHistory.Type

// --- consumers ----------------------------------------------------------------------------

export const ConsumerSort = OneOf("spend", "payments", "last_seen", "first_seen")

export const ConsumersQuery = Schema.Struct({
  from: optional(FromParam),
  to: optional(ToParam),
  gateway_id: GatewayFilter,
  asset: optional(Asset.annotations({ description: "Only payments in this asset." })),
  sort: optional(ConsumerSort.annotations({
    description: "Descending order by: spend (sum of amounts, all assets), payments, last_seen or first_seen. Default spend."
  })),
  limit: optional(LimitParam),
  cursor: optional(CursorParam)
}).annotations({ title: "ConsumersQuery" })

export const Consumer = Schema.Struct({
  agent_id: Schema.String,
  agent_name: Schema.NullOr(Schema.String),
  payments: Count("Payments to your gateways in the range."),
  spend: Schema.Array(AssetAmount).annotations({ description: "Amount paid per asset." }),
  first_seen: UtcTime.annotations({ description: "First payment in the range." }),
  last_seen: UtcTime.annotations({ description: "Last payment in the range." })
}).annotations({ identifier: "Consumer" })
export type Consumer = typeof Consumer.Type

export const ConsumersPage = Schema.Struct({
  ...RangeFields,
  items: Schema.Array(Consumer),
  next_cursor: NextCursor
}).annotations({ identifier: "ConsumersPage" })
export type ConsumersPage = typeof ConsumersPage.Type

// --- metrics ------------------------------------------------------------------------------

export const MetricsQuery = Schema.Struct({
  from: optional(FromParam),
  to: optional(ToParam),
  gateway_id: GatewayFilter
}).annotations({ title: "MetricsQuery" })

const trafficFields = {
  requests: Count("Requests."),
  paid: Count("Paid requests."),
  blocked: Count("Blocked requests."),
  errors: Count("Requests that ended in an error.")
}

export const MetricsPoint = Schema.Struct({
  time: UtcTime.annotations({ description: "Start of the hour." }),
  source: OneOf("rollup", "live").annotations({
    description: "rollup: from the hourly rollup; live: computed from the 60 s packets (hours not rolled up yet)."
  }),
  ...trafficFields,
  latency_p50_ms: Millis("Request-weighted mean of the packets' p50."),
  latency_p99_ms: Millis("Max of the packets' p99 (upper bound)."),
  latency_max_ms: Millis("Max latency.")
}).annotations({ identifier: "MetricsPoint" })
export type MetricsPoint = typeof MetricsPoint.Type

export const RouteMetrics = Schema.Struct({
  method: Schema.String,
  route: Schema.String,
  ...trafficFields,
  latency_p50_ms: Millis("Request-weighted mean of the packets' route p50."),
  latency_p99_ms: Millis("Max of the packets' route p99.")
}).annotations({ identifier: "RouteMetrics" })
export type RouteMetrics = typeof RouteMetrics.Type

export const VendorMetrics = Schema.Struct({
  ...RangeFields,
  totals: Schema.Struct({
    ...trafficFields,
    error_rate: Schema.NullOr(Schema.Number),
    latency_p50_ms: Millis("Request-weighted mean of the hourly p50."),
    latency_p99_ms: Millis("Max of the hourly p99.")
  }),
  series: Schema.Array(MetricsPoint).annotations({ description: "One point per UTC hour of the range, zero-filled." }),
  routes: Schema.Struct({
    ...RangeFields,
    items: Schema.Array(RouteMetrics).annotations({ description: "Busiest routes first (at most 100)." })
  }).annotations({ description: "Per-route figures from the raw packets of the last hour of the range." })
}).annotations({ identifier: "VendorMetrics" })
export type VendorMetrics = typeof VendorMetrics.Type

// --- payments -----------------------------------------------------------------------------

export const PaymentsQuery = Schema.Struct({
  from: optional(FromParam),
  to: optional(ToParam),
  gateway_id: GatewayFilter,
  agent_id: optional(AgentId.annotations({ description: "Only this agent's payments." })),
  asset: optional(Asset.annotations({ description: "Only payments in this asset." })),
  network: optional(Network.annotations({ description: "Only payments on this network." })),
  min_amount: optional(Money.annotations({ description: "Amount ≥ this (decimal string)." })),
  max_amount: optional(Money.annotations({ description: "Amount ≤ this (decimal string)." })),
  limit: optional(LimitParam),
  cursor: optional(CursorParam)
}).annotations({ title: "PaymentsQuery" })

export const Payment = Schema.Struct({
  payment_id: Schema.String,
  gateway_id: Schema.String,
  agent_id: Schema.String,
  request_id: Schema.String,
  method: Schema.String,
  route: Schema.String,
  amount: Amount,
  asset: Schema.String,
  network: Schema.String,
  payer: Schema.NullOr(Schema.String),
  pay_to: Schema.NullOr(Schema.String),
  scheme: Schema.NullOr(Schema.String),
  event_time: UtcTime,
  received_at: UtcTime
}).annotations({ identifier: "Payment" })
export type Payment = typeof Payment.Type

export const PaymentsPage = Schema.Struct({
  ...RangeFields,
  items: Schema.Array(Payment).annotations({ description: "Newest first." }),
  next_cursor: NextCursor
}).annotations({ identifier: "PaymentsPage" })
export type PaymentsPage = typeof PaymentsPage.Type

// --- alerts -------------------------------------------------------------------------------

export const AlertKind = OneOf("request_blocked", "solvency_alert")

export const AlertsQuery = Schema.Struct({
  from: optional(FromParam),
  to: optional(ToParam),
  kind: optional(AlertKind.annotations({ description: "Only blocked requests or only solvency alerts." })),
  severity: optional(OneOf("low", "medium", "high", "critical", "warning").annotations({
    description: "Only this severity (blocked requests: low/medium/high/critical; solvency alerts: warning/critical)."
  })),
  gateway_id: GatewayFilter,
  agent_id: optional(AgentId.annotations({ description: "Only alerts about this agent." })),
  limit: optional(LimitParam),
  cursor: optional(CursorParam)
}).annotations({ title: "AlertsQuery" })

export const BlockedRequestAlert = Schema.Struct({
  kind: Schema.Literal("request_blocked"),
  event_time: UtcTime,
  gateway_id: Schema.String,
  agent_id: Schema.NullOr(Schema.String),
  severity: Schema.String,
  reason: Schema.String.annotations({ description: "Why the request was blocked, e.g. insufficient_funds." }),
  request_id: Schema.String,
  method: Schema.String,
  route: Schema.String,
  detail: Schema.NullOr(Schema.String),
  client_ip: Schema.NullOr(Schema.String)
}).annotations({ identifier: "BlockedRequestAlert" })
export type BlockedRequestAlert = typeof BlockedRequestAlert.Type

export const SolvencyAlertItem = Schema.Struct({
  kind: Schema.Literal("solvency_alert"),
  event_time: UtcTime,
  gateway_id: Schema.String,
  agent_id: Schema.String,
  severity: Schema.String,
  reason: Schema.String.annotations({ description: "low_balance, insufficient_balance or allowance_exhausted." }),
  asset: Schema.String,
  network: Schema.String,
  balance: Amount,
  threshold: Amount,
  required: Schema.NullOr(Amount),
  message: Schema.NullOr(Schema.String)
}).annotations({ identifier: "SolvencyAlertItem" })
export type SolvencyAlertItem = typeof SolvencyAlertItem.Type

export const Alert = Schema.Union(BlockedRequestAlert, SolvencyAlertItem)
export type Alert = typeof Alert.Type

export const AlertsPage = Schema.Struct({
  ...RangeFields,
  items: Schema.Array(Alert).annotations({ description: "Newest first." }),
  next_cursor: NextCursor
}).annotations({ identifier: "AlertsPage" })
export type AlertsPage = typeof AlertsPage.Type

// --- rejections ---------------------------------------------------------------------------

export const RejectionsQuery = Schema.Struct({
  from: optional(FromParam),
  to: optional(ToParam),
  gateway_id: GatewayFilter,
  limit: optional(LimitParam),
  cursor: optional(CursorParam)
}).annotations({ title: "RejectionsQuery" })

export const Rejection = Schema.Struct({
  received_at: UtcTime.annotations({ description: "When the receiver refused the event." }),
  gateway_id: Schema.String,
  type: Schema.NullOr(Schema.String).annotations({ description: "The event's `type`, when it could be read." }),
  reason: Schema.String.annotations({ description: "Why it was refused, e.g. \"must be a decimal string …\"." }),
  field: Schema.NullOr(Schema.String).annotations({ description: "The offending field (e.g. `data.amount`), when one is to blame." }),
  event_id: Schema.NullOr(Schema.String).annotations({ description: "The event's `id`, when it could be read." }),
  source: Schema.NullOr(Schema.String).annotations({ description: "The event's `source`, when it could be read." }),
  payload_bytes: Schema.Int.annotations({ description: "Size of the refused payload." })
}).annotations({ identifier: "Rejection" })
export type Rejection = typeof Rejection.Type

export const RejectionsPage = Schema.Struct({
  ...RangeFields,
  items: Schema.Array(Rejection).annotations({ description: "Newest first." }),
  next_cursor: NextCursor
}).annotations({ identifier: "RejectionsPage" })
export type RejectionsPage = typeof RejectionsPage.Type
