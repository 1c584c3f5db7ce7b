/** Request and response shapes of the agent console endpoints (`/v1/agent/...`). */
import { Schema } from "effect"
import { OneOf } from "../Primitives.js"
import { Amount, AssetTotal, CursorParam, FromParam, IntParam, LimitParam, MAX_PAGE_SIZE, NextCursor, RangeFields, ToParam, UtcTime } from "./ConsoleCommon.js"

const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

export const ActivityType = OneOf("payment", "intent", "request_blocked", "solvency_alert")

export const ActivityQuery = Schema.Struct({
  from: optional(FromParam),
  to: optional(ToParam),
  type: optional(ActivityType.annotations({ description: "Only this kind of entry." })),
  limit: optional(LimitParam),
  cursor: optional(CursorParam)
}).annotations({ title: "ActivityQuery" })

const common = {
  time: UtcTime.annotations({ description: "When it happened (for intents: their last status change)." }),
  gateway_id: Schema.String,
  vendor_id: Schema.NullOr(Schema.String).annotations({ description: "Owner of the gateway; null if unknown." })
}

export const PaymentActivity = Schema.Struct({
  type: Schema.Literal("payment"),
  ...common,
  payment_id: Schema.String,
  method: Schema.String,
  route: Schema.String,
  amount: Amount,
  asset: Schema.String,
  network: Schema.String
}).annotations({ identifier: "PaymentActivity" })

export const IntentActivity = Schema.Struct({
  type: Schema.Literal("intent"),
  ...common,
  intent_id: Schema.String,
  status: Schema.String.annotations({ description: "pending, submitted, settled, failed or expired." }),
  amount: Amount,
  asset: Schema.String,
  network: Schema.String,
  tx_hash: Schema.NullOr(Schema.String),
  failure_reason: Schema.NullOr(Schema.String),
  created_at: UtcTime
}).annotations({ identifier: "IntentActivity" })

export const BlockedActivity = Schema.Struct({
  type: Schema.Literal("request_blocked"),
  ...common,
  reason: Schema.String,
  severity: Schema.String,
  method: Schema.String,
  route: Schema.String
}).annotations({ identifier: "BlockedActivity" })

export const SolvencyActivity = Schema.Struct({
  type: Schema.Literal("solvency_alert"),
  ...common,
  reason: Schema.String,
  severity: Schema.String,
  asset: Schema.String,
  network: Schema.String,
  balance: Amount,
  threshold: Amount,
  required: Schema.NullOr(Amount)
}).annotations({ identifier: "SolvencyActivity" })

export const ActivityItem = Schema.Union(PaymentActivity, IntentActivity, BlockedActivity, SolvencyActivity)
export type ActivityItem = typeof ActivityItem.Type

export const ActivityPage = Schema.Struct({
  ...RangeFields,
  items: Schema.Array(ActivityItem).annotations({ description: "Newest first." }),
  next_cursor: NextCursor
}).annotations({ identifier: "ActivityPage" })
export type ActivityPage = typeof ActivityPage.Type

export const SpendingGroup = OneOf("vendor", "gateway", "endpoint")

export const SpendingQuery = Schema.Struct({
  from: optional(FromParam),
  to: optional(ToParam),
  group_by: optional(SpendingGroup.annotations({ description: "Group by vendor (default), gateway or endpoint (gateway + method + route)." })),
  limit: optional(IntParam(1, MAX_PAGE_SIZE, `Most groups returned, largest spend first; default 100.`))
}).annotations({ title: "SpendingQuery" })

export const SpendingItem = Schema.Struct({
  vendor_id: Schema.NullOr(Schema.String),
  vendor_name: Schema.NullOr(Schema.String),
  gateway_id: Schema.NullOr(Schema.String).annotations({ description: "Set when grouped by gateway or endpoint." }),
  method: Schema.NullOr(Schema.String).annotations({ description: "Set when grouped by endpoint." }),
  route: Schema.NullOr(Schema.String).annotations({ description: "Set when grouped by endpoint." }),
  asset: Schema.String,
  amount: Amount,
  payments: Schema.Int
}).annotations({ identifier: "SpendingItem" })
export type SpendingItem = typeof SpendingItem.Type

export const AgentSpending = Schema.Struct({
  ...RangeFields,
  group_by: SpendingGroup,
  totals: Schema.Array(AssetTotal).annotations({ description: "Everything spent in the range, per asset." }),
  items: Schema.Array(SpendingItem).annotations({ description: "One row per group and asset, largest first." }),
  truncated: Schema.Boolean.annotations({ description: "True when more groups exist than `limit`." })
}).annotations({ identifier: "AgentSpending" })
export type AgentSpending = typeof AgentSpending.Type
