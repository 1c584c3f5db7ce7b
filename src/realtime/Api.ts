/**
 * The live stream contract. `live` is served raw (`handleRaw`): the body is an endless
 * `text/event-stream`, and the token may come from a header, a cookie or a ticket.
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { LiveQuery, StreamTicket } from "../../schema/api/Realtime.js"
import { Authentication } from "../auth/Authentication.js"
import { Forbidden, Unauthorized } from "../auth/Errors.js"

export class InvalidTopics extends Schema.TaggedError<InvalidTopics>()(
  "InvalidTopics",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400, description: "Missing, malformed or too many topics (the message names the problem)" })
) {}

export class TooManyStreams extends Schema.TaggedError<TooManyStreams>()(
  "TooManyStreams",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 429, description: "This user already has SSE_MAX_STREAMS_PER_USER open streams" })
) {}

export class RealtimeUnavailable extends Schema.TaggedError<RealtimeUnavailable>()(
  "RealtimeUnavailable",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 503, description: "Topic permissions cannot be checked right now (database unreachable)" })
) {}

const LiveHeaders = Schema.Struct({
  "last-event-id": Schema.optional(Schema.String.annotations({
    description: "Resume after this event id (browsers send it when they reconnect)."
  }))
})

export class RealtimeApi extends HttpApiGroup.make("realtime")
  .add(
    HttpApiEndpoint.get("live", "/v1/telemetry/live")
      .setUrlParams(LiveQuery)
      .setHeaders(LiveHeaders)
      .addSuccess(HttpApiSchema.Text({ contentType: "text/event-stream" }))
      .addError(InvalidTopics)
      .addError(Unauthorized)
      .addError(Forbidden)
      .addError(TooManyStreams)
      .addError(RealtimeUnavailable)
      .annotate(OpenApi.Summary, "Live events over Server-Sent Events")
      .annotate(
        OpenApi.Description,
        [
          "Streams committed events of the requested topics: `ticker` (public; PaymentAuthorized reduced to gateway,",
          "amount, asset, network and time), `vendor:<gateway_id>` (every event of a gateway you own) and",
          "`agent:<agent_id>` (an agent's payments, blocks, solvency alerts and intents). Each message has `id`,",
          "`event` (the event type) and `data` (JSON: LiveEvent, or TickerEvent when only `ticker` covers it).",
          "`event: reset` means events were missed (reload through REST); `event: end` precedes a close by the",
          "server. Comment lines are heartbeats. Authenticate with `Authorization: Bearer`, the token cookie, or",
          "`?ticket=` from `POST /v1/telemetry/tickets`. Send `Last-Event-ID` to resume. See docs/realtime.md."
        ].join(" ")
      )
  )
  .add(
    HttpApiEndpoint.post("ticket", "/v1/telemetry/tickets")
      .addSuccess(StreamTicket)
      .middleware(Authentication)
      .annotate(OpenApi.Summary, "A single-use ticket for opening one stream")
      .annotate(
        OpenApi.Description,
        "Exchanges the bearer token for a short-lived ticket to pass as `?ticket=` (browsers' EventSource cannot send headers). Usable once; the stream it opens ends when the token would have expired."
      )
  )
  .annotate(OpenApi.Title, "Live") {}
