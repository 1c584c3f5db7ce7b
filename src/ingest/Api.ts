/**
 * The ingest contract. The handler reads the body itself (`handleRaw`): the CloudEvents HTTP
 * binding has several content modes and gzip, and one bad event must not fail the batch — so
 * the payload here documents what is accepted rather than decoding it.
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { CloudEventWire, GatewayTelemetryPacket, IngestResponse } from "../../schema/index.js"
import {
  IngestBadRequest,
  IngestForbidden,
  IngestRateLimited,
  IngestTooLarge,
  IngestUnauthorized,
  IngestUnavailable,
  IngestUnsupportedMedia
} from "./Errors.js"

export class IngestApi extends HttpApiGroup.make("ingest")
  .add(
    HttpApiEndpoint.post("ingest", "/v1/ingest")
      .setPayload(
        Schema.Union(
          CloudEventWire.pipe(HttpApiSchema.withEncoding({ kind: "Json", contentType: "application/cloudevents+json" })),
          Schema.Array(CloudEventWire).pipe(
            HttpApiSchema.withEncoding({ kind: "Json", contentType: "application/cloudevents-batch+json" })
          ),
          GatewayTelemetryPacket.pipe(HttpApiSchema.withEncoding({ kind: "Json", contentType: "application/json" }))
        )
      )
      .addSuccess(IngestResponse, { status: 202 })
      .addSuccess(IngestResponse.annotations({ identifier: "IngestResponseCommitted" }), { status: 200 })
      .addError(IngestResponse.annotations({ identifier: "IngestResponseAllRejected" }), { status: 400 })
      .addError(IngestBadRequest)
      .addError(IngestUnauthorized)
      .addError(IngestForbidden)
      .addError(IngestTooLarge)
      .addError(IngestUnsupportedMedia)
      .addError(IngestRateLimited)
      .addError(IngestUnavailable)
      // Node's 408 (a request not fully sent within HTTP_REQUEST_TIMEOUT) has no body and is in the
      // description below, not declared: a second empty error schema made the platform answer every
      // unknown route 408 instead of 404 (it picks an empty error's status by its schema, void for both).
      .annotate(OpenApi.Summary, "Ingest CloudEvents or a telemetry packet")
      .annotate(
        OpenApi.Description,
        [
          "Accepts a CloudEvent in structured mode (`application/cloudevents+json`), a batch",
          "(`application/cloudevents-batch+json`), binary mode (`ce-*` headers, `data` in the body) and a bare",
          "`GatewayTelemetryPacket` (`application/json`). `Content-Encoding: gzip` is accepted.",
          "Authenticate with `Authorization: Bearer <ingest key>`; gateways with a signing secret must also send",
          "`X-MachPay-Signature: t=<unix seconds>,v1=<64 lowercase hex HMAC-SHA256(secret, \"<t>.<body>\")>`",
          "(exactly one of each, no spaces); in binary mode the `ce-*`, `content-type` and `content-encoding` headers are signed too",
          "(`\"<t>.\" + sorted name:value lines + empty line + body`, see docs/ingest.md);",
          "an accepted signed request sent again is refused as a replay, one",
          "answered 429/503 may be re-sent as is.",
          "An event's `source` must be the gateway's own: `machpay://gateway/<gateway id>` or a sub-path of it;",
          "`source` + `id` is the duplicate key, so duplicates never cross gateways. Text limits are in UTF-8 bytes",
          "(`id`, `source` ≤ 512). See docs/ingest.md.",
          "Each event gets an outcome (accepted / duplicate / rejected with the field). 202 = queued;",
          "send `Prefer: wait=commit` to get 200 once the events are committed in PostgreSQL.",
          "A request not fully sent within `HTTP_REQUEST_TIMEOUT` (60 s) is answered 408 by the HTTP server, with no body,",
          "and its connection is closed."
        ].join(" ")
      )
  )
  .annotate(OpenApi.Title, "Ingest") {}
