/** Request and response shapes of the admin console endpoints (`/v1/admin/...`). */
import { Schema } from "effect"
import { VendorId } from "../Ids.js"
import { JsonObject, OneOf } from "../Primitives.js"
import { CursorParam, IntParam, NextCursor, UtcTime } from "./ConsoleCommon.js"

export const MAX_GATEWAY_PAGE_SIZE = 1000

export const GatewayStatus = OneOf("healthy", "stale", "silent").annotations({
  description: "healthy: seen within the stale threshold; stale: within the silent threshold; silent: longer, or never."
})

export const GatewaysQuery = Schema.Struct({
  status: Schema.optionalWith(GatewayStatus, { exact: true }),
  vendor_id: Schema.optionalWith(VendorId.annotations({ description: "Only this vendor's gateways." }), { exact: true }),
  limit: Schema.optionalWith(IntParam(1, MAX_GATEWAY_PAGE_SIZE, `Page size, 1-${MAX_GATEWAY_PAGE_SIZE}; default 100.`), {
    exact: true
  }),
  cursor: Schema.optionalWith(CursorParam, { exact: true })
}).annotations({ title: "GatewaysQuery" })

const Int = Schema.Int

export const GatewayHealth = Schema.Struct({
  id: Schema.String,
  vendor_id: Schema.String,
  name: Schema.String,
  status: GatewayStatus,
  disabled: Schema.Boolean,
  version: Schema.NullOr(Schema.String),
  last_seen_at: Schema.NullOr(UtcTime).annotations({ description: "Last event or packet received from the gateway." }),
  last_packet_at: Schema.NullOr(UtcTime).annotations({ description: "End of the newest telemetry window." }),
  telemetry_lag_seconds: Schema.NullOr(Schema.Number).annotations({ description: "now − last_packet_at." }),
  recent: Schema.Struct({
    window_seconds: Int.annotations({ description: "Length of the recent window the rates cover." }),
    packets: Int,
    requests: Int,
    errors: Int,
    requests_per_second: Schema.Number,
    error_rate: Schema.NullOr(Schema.Number)
  }).annotations({ description: "Traffic from the packets of the recent window." }),
  config: Schema.NullOr(JsonObject).annotations({ description: "Current configuration as last reported." }),
  config_revision: Schema.NullOr(Schema.String),
  config_updated_at: Schema.NullOr(UtcTime)
}).annotations({ identifier: "GatewayHealth" })
export type GatewayHealth = typeof GatewayHealth.Type

export const GatewaysPage = Schema.Struct({
  as_of: UtcTime,
  thresholds: Schema.Struct({ stale_after_seconds: Int, silent_after_seconds: Int }),
  counts: Schema.Struct({ healthy: Int, stale: Int, silent: Int }).annotations({
    description: "Every gateway by status (ignores the page and the status filter, honours vendor_id)."
  }),
  items: Schema.Array(GatewayHealth).annotations({ description: "By id." }),
  next_cursor: NextCursor
}).annotations({ identifier: "GatewaysPage" })
export type GatewaysPage = typeof GatewaysPage.Type
