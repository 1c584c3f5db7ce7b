/**
 * How console requests fail when something below them does.
 *
 * - The database away (refused, reset, timed out, shutting down, out of connections): a typed
 *   `Unavailable`, answered 503 with `Retry-After` — the client should come back, nothing is
 *   wrong with its request. Logged (warning) with the driver's error.
 * - A request still running after CONSOLE_REQUEST_TIMEOUT (a hung connection, a runaway query):
 *   `Unavailable` too.
 * - A body that is not JSON: 400 (the framework reads it as a defect, a 500). A body over
 *   CONSOLE_MAX_BODY_BYTES: 413 when its size is declared; a chunked one is cut off at the limit.
 * - A body nesting deeper than `MAX_BODY_DEPTH`: 400 before the framework decodes it (its
 *   decode error quotes the body, and formatting a few thousand levels overflowed the stack: a
 *   500 any console user could cause, with a stack trace in the log). Text PostgreSQL cannot
 *   store (NUL, unpaired surrogates): 400 naming the field.
 * - Anything else unexpected (a defect): 500 with a JSON body, logged with its full cause, by
 *   the app-wide `DefectsAnsweredLive` (src/http/Defects.ts); the framework's default for a
 *   defect is an empty 500 and no log line.
 *
 * `dbFailure` replaces `Effect.orDie` at the repositories' edge; `ConsoleFailuresLive` is an
 * API-level middleware that renders both for the console paths only.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import { RequestError } from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { SqlError } from "@effect/sql/SqlError"
import { Cause, Duration, Effect, Option, Schema } from "effect"
import { jsonDepth } from "../http/JsonDepth.js"
import { jsonMayHoldUnstorable, unstorableTextAt } from "../http/JsonText.js"
import { ConsoleSettingsConfig } from "./ConsoleConfig.js"
import { PayloadTooLarge, Unavailable } from "./Errors.js"

/** Seconds a client is asked to wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 5

const CONSOLE_PATHS = ["/v1/vendor", "/v1/agent", "/v1/admin"]

/** node-postgres / libpq signs of a database that cannot be reached or is going away. */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EPIPE", "EAI_AGAIN",
  // Shutting down, starting up; out of connections, memory or configured limits; not accepting
  // connections (ALLOW_CONNECTIONS false, an outside probe: a 500 and an ERROR before).
  "57P01", "57P02", "57P03", "53300", "53400", "53200", "55000"
])
const UNREACHABLE_TEXT = /connection terminated|timeout exceeded when trying to connect|connection error|not queryable|pool after calling end/i

const causeOf = (error: unknown): unknown =>
  typeof error === "object" && error !== null && "cause" in error ? error.cause : undefined

const codeOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : undefined

/** True when the SQL error says the database is unreachable rather than the statement wrong. */
export const isUnreachable = (error: SqlError): boolean => {
  if (error.message.startsWith("Failed to acquire connection") || error.message === "Connection error") return true
  const cause = causeOf(error)
  const code = codeOf(cause)
  if (code !== undefined && (UNREACHABLE_CODES.has(code) || code.startsWith("08"))) return true
  const text = cause instanceof Error ? cause.message : ""
  return UNREACHABLE_TEXT.test(text)
}

/**
 * At a repository's edge: an unreachable database becomes `Unavailable`; every other error
 * (a statement PostgreSQL refused, a row that fails its schema) is a defect — a bug.
 */
export const dbFailure = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, Unavailable, R> =>
  Effect.catchAll(self, (error) =>
    error instanceof SqlError && isUnreachable(error)
      ? Effect.logWarning("console: database unavailable", Cause.fail(error)).pipe(
        Effect.zipRight(Effect.fail(new Unavailable({ message: "the database is unavailable; retry shortly" })))
      )
      : Effect.die(error))

const isUnavailable = (error: unknown): error is Unavailable => error instanceof Unavailable

const isConsolePath = (url: string) => CONSOLE_PATHS.some((prefix) => url.startsWith(prefix))

export const unavailableResponse = (message: string) =>
  HttpServerResponse.unsafeJson(
    { _tag: "Unavailable", message },
    { status: 503, headers: { "retry-after": String(RETRY_AFTER_SECONDS) } }
  )

/**
 * A request still running after the timeout is answered 503 at once; its work is interrupted in
 * the background (`disconnect`), since cancelling a query on a hung connection may hang too.
 * - `interruptible`: the platform runs middleware uninterruptibly, which would make the timeout
 *   wait for the request after all.
 * - `exit`: the request runs in a child fiber, whose fiber refs (the 401 challenge header, set by
 *   the bearer middleware) come back only when it succeeds; its failure is raised again here.
 */
const bounded = <E, R>(
  timeout: Duration.Duration,
  request: HttpServerRequest.HttpServerRequest,
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
) =>
  Effect.interruptible(Effect.disconnect(Effect.exit(app))).pipe(
    Effect.timeoutTo({
      duration: timeout,
      onSuccess: (exit): Effect.Effect<HttpServerResponse.HttpServerResponse, E> => exit,
      onTimeout: () =>
        Effect.logWarning(`console: ${request.method} ${request.url.split("?")[0]} answered 503 (timeout)`).pipe(
          Effect.as(unavailableResponse(`the request did not finish within ${Duration.format(timeout)}; retry shortly`))
        )
    }),
    Effect.flatten
  )

const tooLarge = (maxBodyBytes: number) =>
  HttpServerResponse.unsafeJson(
    Schema.encodeSync(PayloadTooLarge)(
      new PayloadTooLarge({ message: `the request body is larger than ${maxBodyBytes} bytes (CONSOLE_MAX_BODY_BYTES)` })
    ),
    { status: 413 }
  )

/** No console body nests more than a few levels; this leaves room and bounds the decoder's work. */
export const MAX_BODY_DEPTH = 32

const HAS_BODY = new Set(["POST", "PUT", "PATCH"])

const badBody = (path: ReadonlyArray<string>, problem: string) =>
  HttpServerResponse.unsafeJson(
    {
      _tag: "HttpApiDecodeError",
      issues: [{ _tag: "Type", path, message: problem }],
      message: path.length === 0 ? `the request body ${problem}` : `${path.join(".")}: ${problem}`
    },
    { status: 400 }
  )

const parsed = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined // not JSON: the framework answers that (400, see `unreadableBody`)
  }
}

/**
 * Reads the body first (the platform caches it for the handler) and refuses what the framework
 * would mishandle: nesting deeper than `MAX_BODY_DEPTH`, and text PostgreSQL cannot store (NUL,
 * an unpaired surrogate), which the driver would silently turn into U+FFFD — so two different
 * paths could become one (a 409 for a path never used).
 */
const bodyChecked = <E, R>(request: HttpServerRequest.HttpServerRequest, app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  // Only a JSON body is read here (the platform caches the text it parses JSON from; a body of
  // another type read here could not be read again, and its request would hang).
  !HAS_BODY.has(request.method) || !(request.headers["content-type"] ?? "").toLowerCase().includes("application/json") ? app : Effect.flatMap(Effect.orDie(request.text), (text) => {
    if (jsonDepth(text) > MAX_BODY_DEPTH) return Effect.succeed(badBody([], `nests deeper than ${MAX_BODY_DEPTH} levels`))
    const unstorable = jsonMayHoldUnstorable(text) ? unstorableTextAt(parsed(text)) : undefined
    return unstorable === undefined
      ? app
      : Effect.succeed(badBody(unstorable.split("."), "contains a NUL character or an unpaired UTF-16 surrogate, which cannot be stored"))
  })

/** A body the framework could not read (a defect to it): 413 past the limit, else 400. */
const unreadableBody = (cause: Cause.Cause<unknown>, maxBodyBytes: number): HttpServerResponse.HttpServerResponse | undefined => {
  const defect = Cause.dieOption(cause)
  if (Option.isNone(defect) || !(defect.value instanceof RequestError) || defect.value.reason !== "Decode") return undefined
  const inner = defect.value.cause
  // The Node body reader's own words for a body over the limit (platform-node-shared's stream.ts).
  if (inner instanceof Error && inner.message === "maxBytes exceeded") return tooLarge(maxBodyBytes)
  return HttpServerResponse.unsafeJson(
    { _tag: "HttpApiDecodeError", issues: [], message: "the request body is not valid JSON" },
    { status: 400 }
  )
}

/**
 * Renders `Unavailable` (503 + Retry-After) on the console paths (defects go on to
 * `DefectsAnsweredLive`), and
 * bounds each console request by CONSOLE_REQUEST_TIMEOUT (read once; checked at start-up with
 * the other console settings).
 */
export const ConsoleFailuresLive = HttpApiBuilder.middleware(Effect.map(Effect.orDie(ConsoleSettingsConfig), ({ maxBodyBytes, requestTimeout }) => (app) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    !isConsolePath(request.url)
      ? app
      : Number(request.headers["content-length"] ?? 0) > maxBodyBytes
      ? Effect.succeed(tooLarge(maxBodyBytes))
      : bounded(requestTimeout, request, Effect.catchAllCause(HttpIncomingMessage.withMaxBodySize(bodyChecked(request, app), Option.some(maxBodyBytes)), (cause) => {
        const unreadable = unreadableBody(cause, maxBodyBytes)
        if (unreadable !== undefined) return Effect.succeed(unreadable)
        const failure: Option.Option<unknown> = Cause.failureOption(cause)
        if (Option.isSome(failure)) {
          const error = failure.value
          // Declared errors (400/401/403/404/409) are encoded by the API after this middleware.
          return isUnavailable(error)
            ? Effect.logWarning(`console: ${request.method} ${request.url.split("?")[0]} answered 503`, cause).pipe(
              Effect.as(unavailableResponse(error.message))
            )
            : Effect.failCause(cause)
        }
        // A defect (or an interruption): answered by `DefectsAnsweredLive` (src/http/Defects.ts).
        return Effect.failCause(cause)
      })))))
