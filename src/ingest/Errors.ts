/**
 * Every error status `POST /v1/ingest` answers, as tagged errors with their status in the contract
 * (so OpenAPI, the typed client and the responses come from one definition). Permanent ones
 * (400/401/403/413/415): re-sending the same request cannot help. Retryable ones (429/503): the
 * request was not taken; re-send it as is after `retryAfterSeconds` (also the `Retry-After` header).
 *
 * The body keeps the shape gateways already parse (`error` code, `message`, the `field` at fault)
 * and adds `_tag`. Contract only: no server code is imported here.
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Schema } from "effect"

const problem = {
  error: Schema.String.annotations({ description: "Machine-readable code, e.g. invalid_json, replayed_request" }),
  message: Schema.String.annotations({ description: "What is wrong and how to fix it" }),
  field: Schema.optional(Schema.String.annotations({ description: "The header, body part or limit at fault" }))
}

const retryable = {
  ...problem,
  retryAfterSeconds: Schema.Int.annotations({ description: "Seconds to wait before re-sending (also in Retry-After)" })
}

export class IngestBadRequest extends Schema.TaggedError<IngestBadRequest>()(
  "IngestBadRequest",
  problem,
  HttpApiSchema.annotations({ status: 400, description: "The body is not what the content type says (invalid JSON, empty batch …)" })
) {}

export class IngestUnauthorized extends Schema.TaggedError<IngestUnauthorized>()(
  "IngestUnauthorized",
  problem,
  HttpApiSchema.annotations({ status: 401, description: "Missing, malformed or unknown ingest key; bad or replayed request signature" })
) {}

export class IngestForbidden extends Schema.TaggedError<IngestForbidden>()(
  "IngestForbidden",
  problem,
  HttpApiSchema.annotations({
    status: 403,
    description: "Gateway disabled, or every event speaks for another gateway (`source` or `data.gateway_id`)"
  })
) {}

export class IngestTooLarge extends Schema.TaggedError<IngestTooLarge>()(
  "IngestTooLarge",
  problem,
  HttpApiSchema.annotations({ status: 413, description: "Body, decompressed body or event count over its limit (named in the message)" })
) {}

export class IngestUnsupportedMedia extends Schema.TaggedError<IngestUnsupportedMedia>()(
  "IngestUnsupportedMedia",
  problem,
  HttpApiSchema.annotations({ status: 415, description: "Unknown Content-Type or Content-Encoding" })
) {}

export class IngestRateLimited extends Schema.TaggedError<IngestRateLimited>()(
  "IngestRateLimited",
  retryable,
  HttpApiSchema.annotations({ status: 429, description: "This gateway exceeded its rate; re-send after Retry-After" })
) {}

export class IngestUnavailable extends Schema.TaggedError<IngestUnavailable>()(
  "IngestUnavailable",
  retryable,
  HttpApiSchema.annotations({
    status: 503,
    description: "The key could not be checked, the pipeline cannot take more now, or it is shutting down; re-send after Retry-After"
  })
) {}

export const INGEST_ERRORS = [
  IngestBadRequest,
  IngestUnauthorized,
  IngestForbidden,
  IngestTooLarge,
  IngestUnsupportedMedia,
  IngestRateLimited,
  IngestUnavailable
] as const

export type IngestError = InstanceType<typeof INGEST_ERRORS[number]>

export const IngestErrorSchema = Schema.Union(...INGEST_ERRORS)

/** The status the contract gives each error (read from the class's annotation, not repeated). */
export const statusOf = (error: IngestError): number =>
  HttpApiSchema.getStatusErrorAST(INGEST_ERRORS.find((cls) => cls.identifier === error._tag)!.ast)
