/**
 * `GET /v1/telemetry/live`: topics (400) → who is calling (401) → may they see the topics (403)
 * → a stream slot (429) → subscribe (replay or reset first) → stream.
 * `POST /v1/telemetry/tickets`: bearer token → single-use ticket.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Clock, Duration, Effect, Either, Metric, Option } from "effect"
import { CurrentPrincipal } from "../auth/Authentication.js"
import { Authenticator } from "../auth/Authenticator.js"
import { Unauthorized } from "../auth/Errors.js"
import { Api } from "../http/Api.js"
import type { Principal } from "../auth/Principal.js"
import { parseBearer } from "../identity/IngestKey.js"
import { authorize, GatewayOwnership, userKey } from "./Access.js"
import { InvalidTopics, RealtimeUnavailable, TooManyStreams } from "./Api.js"
import { RealtimeHub } from "./Hub.js"
import * as Metrics from "./Metrics.js"
import { RealtimeSettingsConfig } from "./RealtimeConfig.js"
import { openSseStream, sseResponse } from "./Sse.js"
import { StreamRegistry } from "./Streams.js"
import { StreamTickets } from "./Tickets.js"
import { kindsOf, parseTopics } from "./Topics.js"

const challenge = HttpApp.appendPreResponseHandler((_request, response) =>
  Effect.succeed(
    response.status === 401
      ? HttpServerResponse.setHeader(response, "www-authenticate", "Bearer realm=\"machpay-console\"")
      : response
  )
)

const retryAfter = (seconds: number) =>
  HttpApp.appendPreResponseHandler((_request, response) =>
    Effect.succeed(
      response.status === 429 || response.status === 503
        ? HttpServerResponse.setHeader(response, "retry-after", String(seconds))
        : response
    )
  )

export const RealtimeHttpLive = HttpApiBuilder.group(Api, "realtime", (handlers) =>
  Effect.gen(function*() {
    const settings = yield* RealtimeSettingsConfig
    // The client's own reconnect hint (SSE `retry:`), in whole seconds, at least 1.
    const retryAfterSeconds = Math.max(1, Math.ceil(settings.retryMs / 1000))
    const hub = yield* RealtimeHub
    const registry = yield* StreamRegistry
    const tickets = yield* StreamTickets
    const authenticator = yield* Authenticator
    const ownership = yield* GatewayOwnership
    const howTo =
      `send Authorization: Bearer <jwt>, the ${settings.cookieName} cookie, or ?ticket= from POST /v1/telemetry/tickets`

    /** Ticket first (it is what a browser sends), then the Authorization header, then the cookie. */
    const identify = (
      request: HttpServerRequest.HttpServerRequest,
      ticket: string | undefined
    ): Effect.Effect<Principal | undefined, Unauthorized> => {
      if (ticket !== undefined) return tickets.redeem(ticket)
      const header = request.headers["authorization"]
      if (header !== undefined) {
        const token = parseBearer(header)
        return Option.isNone(token)
          ? Effect.fail(new Unauthorized({ message: "the Authorization header must be `Bearer <jwt>`" }))
          : authenticator.authenticate(token.value)
      }
      const cookie = request.cookies[settings.cookieName]
      return cookie === undefined || cookie === "" ? Effect.succeed(undefined) : authenticator.authenticate(cookie)
    }

    const live = (
      request: HttpServerRequest.HttpServerRequest,
      params: { readonly topics?: string | undefined; readonly ticket?: string | undefined },
      lastEventId: string | undefined
    ) =>
      Effect.gen(function*() {
        const topics = parseTopics(params.topics, settings.maxTopics)
        if (Either.isLeft(topics)) return yield* Effect.fail(new InvalidTopics({ message: topics.left }))
        const principal = yield* identify(request, params.ticket)
        yield* authorize(principal, topics.right, howTo).pipe(
          Effect.provideService(GatewayOwnership, ownership),
          Effect.catchTag("OwnershipUnavailable", () =>
            Effect.fail(new RealtimeUnavailable({ message: "cannot check topic permissions now: database unreachable; retry" })))
        )
        const stream = openSseStream({
          retryMs: settings.retryMs,
          sendBufferBytes: settings.sendBufferBytes,
          drop: () => NodeHttpServerRequest.toServerResponse(request).destroy()
        })
        const user = principal === undefined ? undefined : userKey(principal)
        if (!(yield* registry.open(user, kindsOf(topics.right), stream))) {
          return yield* Effect.fail(
            new TooManyStreams({
              message: principal === undefined
                ? "too many anonymous streams on this server; retry later"
                : `at most ${settings.maxStreamsPerUser} concurrent streams per user; close one first`
            })
          )
        }
        yield* hub.connect(topics.right, lastEventId, stream.sink)
        if (principal !== undefined) {
          const remaining = principal.expiresAt * 1000 - (yield* Clock.currentTimeMillis)
          yield* Effect.sleep(Duration.millis(Math.max(0, remaining))).pipe(
            Effect.zipRight(Effect.sync(() => stream.end("token_expired"))),
            Effect.forkScoped
          )
        }
        return sseResponse(stream)
      }).pipe(
        Effect.tapError((error) =>
          Effect.gen(function*() {
            const status = { InvalidTopics: 400, Unauthorized: 401, Forbidden: 403, TooManyStreams: 429, RealtimeUnavailable: 503 }[error._tag]
            yield* Metric.increment(Metric.tagged(Metrics.refused, "status", String(status)))
            if (error._tag === "Unauthorized") yield* challenge
            // Both are "try again later": say when, as ingest does.
            if (error._tag === "TooManyStreams" || error._tag === "RealtimeUnavailable") yield* retryAfter(retryAfterSeconds)
          })
        ),
        Effect.withSpan("Realtime.live")
      )

    return handlers
      .handleRaw("live", ({ headers, request, urlParams }) =>
        live(request, urlParams, headers["last-event-id"] ?? urlParams.last_event_id))
      .handle("ticket", () =>
        Effect.gen(function*() {
          const principal = yield* CurrentPrincipal
          const issued = yield* tickets.issue(principal)
          return { ticket: issued.ticket, expires_at: new Date(issued.expiresAtMs).toISOString() }
        }))
  }))
