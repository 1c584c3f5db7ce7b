/** Request and response shapes of the vendor's priced routes (`/v1/vendor/endpoints`). */
import { Schema } from "effect"
import { GatewayId } from "../Ids.js"
import { Money } from "../Money.js"
import { Asset, HttpMethod, MaxString, OneOf, Route } from "../Primitives.js"
import { Amount, CursorParam, LimitParam, NextCursor, UtcTime } from "./ConsoleCommon.js"

const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

export const EndpointId = Schema.String.pipe(
  Schema.pattern(/^[1-9][0-9]{0,17}$/, { message: () => "must be an endpoint id (a positive integer)" })
).annotations({ description: "Endpoint id." })

export const EndpointPath = Schema.Struct({ id: EndpointId })

export const EndpointsQuery = Schema.Struct({
  gateway_id: optional(GatewayId.annotations({ description: "Only this gateway (must be yours, else 404)." })),
  active: optional(OneOf("true", "false").annotations({ description: "Only active (true) or inactive (false) endpoints." })),
  limit: optional(LimitParam),
  cursor: optional(CursorParam)
}).annotations({ title: "EndpointsQuery" })

// PostgreSQL text cannot hold NUL: refused here (400) rather than by the database (500).
const hasNoNul = (text: string) => !text.includes("\u0000")
const nulMessage = { message: () => "must not contain NUL characters" }
const EndpointRoute = Route.pipe(Schema.filter(hasNoNul, nulMessage))
const Description = MaxString(1000).pipe(Schema.filter(hasNoNul, nulMessage)).annotations({ description: "Free text shown in the console (≤ 1000 characters)." })

export const CreateEndpoint = Schema.Struct({
  method: HttpMethod,
  path: EndpointRoute,
  price: Money.annotations({ description: "Price per request, in units of `asset`." }),
  asset: Asset,
  description: optional(Schema.NullOr(Description)),
  active: optional(Schema.Boolean.annotations({ description: "Default true." })),
  gateway_id: optional(Schema.NullOr(GatewayId.annotations({ description: "Gateway serving the route (yours), or null for all." })))
}).annotations({ identifier: "CreateEndpoint" })
export type CreateEndpoint = typeof CreateEndpoint.Type

export const UpdateEndpoint = Schema.Struct({
  method: optional(HttpMethod),
  path: optional(EndpointRoute),
  price: optional(Money),
  asset: optional(Asset),
  description: optional(Schema.NullOr(Description)),
  active: optional(Schema.Boolean),
  gateway_id: optional(Schema.NullOr(GatewayId))
}).annotations({ identifier: "UpdateEndpoint", description: "Fields to change; omitted fields stay as they are." })
export type UpdateEndpoint = typeof UpdateEndpoint.Type

export const Endpoint = Schema.Struct({
  id: EndpointId,
  gateway_id: Schema.NullOr(Schema.String),
  method: Schema.String,
  path: Schema.String,
  price: Amount,
  asset: Schema.String,
  description: Schema.NullOr(Schema.String),
  active: Schema.Boolean,
  created_at: UtcTime,
  updated_at: UtcTime
}).annotations({ identifier: "Endpoint" })
export type Endpoint = typeof Endpoint.Type

export const EndpointsPage = Schema.Struct({
  items: Schema.Array(Endpoint),
  next_cursor: NextCursor
}).annotations({ identifier: "EndpointsPage" })
