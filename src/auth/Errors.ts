/**
 * Authentication failures as they cross HTTP. 401 = we do not know who you are (missing,
 * malformed, expired or forged token); 403 = we know, and this is not for your role.
 * Messages name the problem but never echo the token or a claim value.
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Schema } from "effect"

export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  { message: Schema.String },
  HttpApiSchema.annotations({
    status: 401,
    description: "No valid bearer token: missing, malformed, expired, not yet valid, or with a bad signature"
  })
) {}

export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Forbidden",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 403, description: "The token is valid but its role may not use this endpoint" })
) {}
