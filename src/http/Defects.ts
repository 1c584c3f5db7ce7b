/** The last line of the HTTP app: a defect becomes a logged 500 with a JSON body. */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as Respondable from "@effect/platform/HttpServerRespondable"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Cause, Effect, Option, Schema } from "effect"
import { INTERNAL_ERROR_MESSAGE, InternalError } from "./Errors.js"

const internalErrorBody = Schema.encodeSync(InternalError)(new InternalError({ message: INTERNAL_ERROR_MESSAGE }))

/** A defect the platform answers itself (a body it could not read → 400, a response thrown as is). */
const answeredByPlatform = (cause: Cause.Cause<unknown>) =>
  Option.match(Cause.dieOption(cause), {
    onNone: () => false,
    onSome: (defect) => HttpServerResponse.isServerResponse(defect) || Respondable.isRespondable(defect)
  })

/**
 * Whatever a feature failed to turn into a response — a defect (a bug, a stack overflow on an
 * input nobody foresaw) — is logged with its cause and answered 500 with a JSON body, on every
 * route, the console's included (`DefectsAnsweredLive`, an API middleware: it runs inside the
 * platform's own error handling, which would answer an empty 500 first). Declared failures (404
 * for an unknown route, …), interruptions and defects the platform knows how to answer keep the
 * platform's answer.
 */
export const defectsAnswered = (app: HttpApp.Default) =>
  Effect.catchAllCause(app, (cause) =>
    Option.isSome(Cause.failureOption(cause)) || Cause.isInterruptedOnly(cause) || answeredByPlatform(cause)
      ? Effect.failCause(cause)
      : Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
        Effect.logError(`${request.method} ${request.url.split("?")[0]} failed`, cause).pipe(
          Effect.as(HttpServerResponse.unsafeJson(internalErrorBody, { status: 500 }))
        )))

export const DefectsAnsweredLive = HttpApiBuilder.middleware(defectsAnswered)
