/**
 * Console errors that cross HTTP. Bad parameters use the framework's own 400
 * (`HttpApiDecodeError`, also what a malformed query produces), so every 400 has one shape:
 * `issues[].path` names the parameter and `message` says what is wrong with it.
 */
import * as HttpApiError from "@effect/platform/HttpApiError"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Schema } from "effect"

export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404, description: "No such resource among yours (other tenants' ids are not found either)" })
) {}

export class Conflict extends Schema.TaggedError<Conflict>()(
  "Conflict",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409, description: "The change collides with an existing resource" })
) {}

/** A 400 naming `parameter`, shaped like the framework's decode errors. */
export const invalidParameter = (parameter: string, message: string) =>
  new HttpApiError.HttpApiDecodeError({
    message: `${parameter}: ${message}`,
    issues: [{ _tag: "Type", path: [parameter], message }]
  })

export type InvalidParameter = HttpApiError.HttpApiDecodeError

export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()(
  "PayloadTooLarge",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 413, description: "The request body is larger than `CONSOLE_MAX_BODY_BYTES`" })
) {}

export class Unavailable extends Schema.TaggedError<Unavailable>()(
  "Unavailable",
  { message: Schema.String },
  HttpApiSchema.annotations({
    status: 503,
    description: "The database is not ready or unreachable; retry after the `Retry-After` header's seconds"
  })
) {}
