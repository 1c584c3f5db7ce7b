/**
 * The live stream contract (`GET /v1/telemetry/live`, `POST /v1/telemetry/tickets`): topic
 * names, the JSON carried in each SSE message's `data`, and the ticket exchange. The SSE
 * framing itself (`id`, `event`, `data`, `retry`, comments) is described in docs/realtime.md.
 */
import { Schema } from "effect"
import { Rfc3339 } from "../Time.js"

/** Same alphabet as `GatewayId` / `AgentId` (schema/Ids.ts). */
const ID = "[A-Za-z0-9][A-Za-z0-9._:-]{0,127}"

export const TOPIC_PATTERN = new RegExp(`^(?:ticker|vendor:${ID}|agent:${ID})$`)

export const Topic = Schema.String.pipe(
  Schema.pattern(TOPIC_PATTERN, {
    message: () => "must be \"ticker\", \"vendor:<gateway_id>\" or \"agent:<agent_id>\""
  })
).annotations({
  description: "`ticker` (public payments), `vendor:<gateway_id>` (everything of a gateway you own) or `agent:<agent_id>` (an agent's own events)."
})
export type Topic = typeof Topic.Type

export const LiveQuery = Schema.Struct({
  topics: Schema.optional(Schema.String.annotations({
    description: "Comma-separated topics, e.g. `ticker,vendor:gw_1`. At least one; at most SSE_MAX_TOPICS (default 20)."
  })),
  ticket: Schema.optional(Schema.String.annotations({
    description: "A single-use stream ticket from `POST /v1/telemetry/tickets` (for `EventSource`, which cannot send headers)."
  })),
  last_event_id: Schema.optional(Schema.String.annotations({
    description: "Resume after this event id, for a new `EventSource` (which cannot send headers); the `Last-Event-ID` header wins."
  }))
})

/** `data` of a message on `vendor:` and `agent:` topics: the committed event as the gateway sent it. */
export const LiveEvent = Schema.Struct({
  id: Schema.String.annotations({ description: "CloudEvents `id` (with `source`, identifies the event)." }),
  source: Schema.String.annotations({ description: "CloudEvents `source`." }),
  type: Schema.String.annotations({ description: "Event type, also the SSE `event` name." }),
  time: Schema.String.annotations({ description: "Event time (RFC 3339) as sent." }),
  gateway_id: Schema.String.annotations({ description: "Gateway that sent the event." }),
  subject: Schema.optional(Schema.String),
  data: Schema.Unknown.annotations({ description: "The event's `data`, shaped by its type (schema/events)." })
}).annotations({ identifier: "LiveEvent", description: "A committed event, on vendor and agent topics." })
export type LiveEvent = typeof LiveEvent.Type

/** `data` of a message that reached the stream only through `ticker`: no agent identity. */
export const TickerEvent = Schema.Struct({
  gateway_id: Schema.String,
  amount: Schema.String.annotations({ description: "Decimal amount as a string." }),
  asset: Schema.String,
  network: Schema.String,
  time: Schema.String.annotations({ description: "Payment time (RFC 3339)." })
}).annotations({ identifier: "TickerEvent", description: "A payment on the public ticker (PaymentAuthorized only)." })
export type TickerEvent = typeof TickerEvent.Type

export const ResetReason = Schema.Literal("cursor_too_old", "cursor_unknown", "stream_interrupted", "replay_too_large").annotations({
  description: [
    "cursor_too_old: Last-Event-ID is older than the history window;",
    "cursor_unknown: Last-Event-ID is not an id this service issued;",
    "replay_too_large: the events since Last-Event-ID exceed the stream's send buffer (SSE_SEND_BUFFER_BYTES);",
    "stream_interrupted: this process lost its feed from the other processes for a moment."
  ].join(" ")
})

/** `event: reset` — events may have been missed; reload state through the REST API. */
export const StreamReset = Schema.Struct({
  reason: ResetReason,
  message: Schema.String
}).annotations({ identifier: "StreamReset" })
export type StreamReset = typeof StreamReset.Type

/** `event: end` — the server closes the stream on purpose. */
export const StreamEnd = Schema.Struct({
  reason: Schema.Literal("token_expired", "server_shutdown").annotations({
    description: "token_expired: get a new token (or ticket) before reconnecting; server_shutdown: reconnect."
  }),
  message: Schema.String
}).annotations({ identifier: "StreamEnd" })
export type StreamEnd = typeof StreamEnd.Type

export const StreamTicket = Schema.Struct({
  ticket: Schema.String.annotations({ description: "Pass as `?ticket=` once, within its lifetime." }),
  expires_at: Rfc3339.annotations({ description: "When the ticket stops being accepted (RFC 3339)." })
}).annotations({ identifier: "StreamTicket" })
export type StreamTicket = typeof StreamTicket.Type
