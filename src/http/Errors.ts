/**
 * Errors every route may answer, declared once in the contract (OpenAPI, typed clients). The
 * server side that produces them is elsewhere (`Defects.ts`); this module imports no server code.
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Schema } from "effect"

export class InternalError extends Schema.TaggedError<InternalError>()(
  "InternalError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 500, description: "A bug on our side: logged with its cause; nothing more is said" })
) {}

/** What every 500 says: the cause is in the log, never in the answer. */
export const INTERNAL_ERROR_MESSAGE = "internal error; it has been logged"
