/**
 * `POST /v1/ingest`: authenticate → read (bounded) → verify signature → decompress → split by
 * content mode → rate limit → validate each event → submit the valid ones → answer per event.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Clock, Duration, Effect, Either, Metric, Option, Schema } from "effect"
import type { IngestOutcome, IngestResponse } from "../../schema/index.js"
import { isIngestKeyFormat, parseBearer } from "../identity/IngestKey.js"
import { binaryHeaderBlock, ReplayGuard, replayKey, verifySignature } from "../identity/RequestSignature.js"
import { Api } from "../http/Api.js"
import { decodeContentEncoding, readBody } from "./Body.js"
import { BodyBudget, type BodyHold } from "./BodyBudget.js"
import { ByteRate } from "./ByteRate.js"
import { DeadLetters } from "./DeadLetters.js"
import {
  IngestBadRequest,
  type IngestError,
  IngestErrorSchema,
  IngestForbidden,
  IngestRateLimited,
  IngestTooLarge,
  IngestUnauthorized,
  IngestUnavailable,
  IngestUnsupportedMedia,
  statusOf
} from "./Errors.js"
import { candidatesOf, type ContentMode, contentModeOf, type Rejection, type RequestProblem } from "./Decode.js"
import { validateCandidate } from "./Validate.js"
import { type GatewayIdentity, makeKeyCache } from "./GatewayAuth.js"
import { IngestSettingsConfig } from "./IngestConfig.js"
import type { IngestEvent } from "./IngestEvent.js"
import { recordReceived } from "./Labels.js"
import * as Metrics from "./Metrics.js"
import { IngestPipeline, type Outcome } from "./PipelineService.js"
import { RateLimiter } from "./RateLimiter.js"
import { forEachInSlices } from "./Slices.js"
import { HOT_SPAN } from "../observability/Tracing.js"

type ProblemStatus = 400 | 401 | 403 | 413 | 415 | 429 | 503

/** Fails with the contract's tagged error for `status`; `render` turns it into the response. */
const problem = (status: ProblemStatus, error: string, message: string, options: { field?: string; retryAfter?: number } = {}) => {
  const base = { error, message, ...(options.field === undefined ? {} : { field: options.field }) }
  const retryAfterSeconds = options.retryAfter ?? 5
  return Effect.fail<IngestError>(
    status === 400
      ? new IngestBadRequest(base)
      : status === 401
      ? new IngestUnauthorized(base)
      : status === 403
      ? new IngestForbidden(base)
      : status === 413
      ? new IngestTooLarge(base)
      : status === 415
      ? new IngestUnsupportedMedia(base)
      : status === 429
      ? new IngestRateLimited({ ...base, retryAfterSeconds })
      : new IngestUnavailable({ ...base, retryAfterSeconds })
  )
}

/** The one place an ingest error becomes a response: status from the contract, body encoded by its schema. */
const render = (error: IngestError) =>
  Effect.gen(function*() {
    const status = statusOf(error)
    yield* Metric.increment(Metric.tagged(Metrics.rejectedRequests, "status", String(status)))
    const body = yield* Schema.encode(IngestErrorSchema)(error).pipe(Effect.orDie)
    return HttpServerResponse.unsafeJson(body, {
      status,
      headers: {
        ...("retryAfterSeconds" in error ? { "retry-after": String(error.retryAfterSeconds) } : {}),
        ...(status === 401 ? { "www-authenticate": "Bearer" } : {})
      }
    })
  })

const fromProblem = (p: RequestProblem) =>
  problem(p.status, p.error, p.message, { ...(p.field === undefined ? {} : { field: p.field }), ...(p.status === 503 ? { retryAfter: 1 } : {}) })

/** `Prefer: wait=commit` (RFC 7240; the value may be quoted: `wait="commit"`) asks to answer only after the database commit. */
export const wantsCommit = (prefer: string | undefined): boolean =>
  (prefer ?? "").split(",").some((token) => token.trim().toLowerCase().replace(/\s+/g, "").replace(/^wait="(.*)"$/, "wait=$1") === "wait=commit")

const outcomeOf = (event: IngestEvent, index: number, outcome: Outcome): IngestOutcome => ({
  index,
  id: event.id,
  source: event.source,
  type: event.type,
  ...(typeof outcome === "string" ? { status: outcome } : outcome)
})

const rejectionOutcome = (r: Rejection): IngestOutcome => ({
  index: r.index,
  ...(r.id === undefined ? {} : { id: r.id }),
  ...(r.source === undefined ? {} : { source: r.source }),
  ...(r.type === undefined ? {} : { type: r.type }),
  status: "rejected",
  reason: r.reason,
  field: r.field
})

export const IngestHttpLive = HttpApiBuilder.group(Api, "ingest", (handlers) =>
  Effect.gen(function*() {
    const settings = yield* IngestSettingsConfig
    const pipeline = yield* IngestPipeline
    const deadLetters = yield* DeadLetters
    const lookup = yield* makeKeyCache(settings.keyCacheTtl)
    const limiter = new RateLimiter()
    const byteRate = new ByteRate({
      bytesPerSec: settings.rateLimitBytesPerSec,
      maxBodyBytes: settings.maxBodyBytes,
      maxDecompressedBytes: settings.maxDecompressedBytes
    })
    const toleranceSeconds = Duration.toSeconds(settings.signatureTolerance)
    const replays = new ReplayGuard({ windowSeconds: 2 * toleranceSeconds, maxEntries: 100_000 })

    const bodies = new BodyBudget({
      total: settings.maxBodyBytesInFlight,
      perGateway: settings.maxBodyBytesInFlightPerGateway,
      perVendor: settings.maxBodyBytesInFlightPerVendor
    })

    const bytesRateLimited = (gateway: GatewayIdentity, retryAfter: number) =>
      problem(429, "rate_limited", byteRate.message(gateway), { retryAfter, field: "body" })

    const handle = (request: HttpServerRequest.HttpServerRequest) => {
      /** This request's share of the body budget, once its gateway is known; given back when it is answered. */
      let hold: BodyHold | undefined
      return Effect.gen(function*() {
        const headers = request.headers
        const key = parseBearer(headers["authorization"])
        if (Option.isNone(key)) return yield* problem(401, "unauthorized", "missing bearer ingest key in Authorization")
        // A string that cannot be a key is refused here: no hash, no cache entry, no database trip.
        if (!isIngestKeyFormat(key.value)) {
          return yield* problem(401, "unauthorized", "malformed ingest key (expected mpk_live_ and 43 base64url characters)")
        }
        const found = yield* lookup(key.value).pipe(Effect.either)
        if (Either.isLeft(found)) {
          return yield* problem(503, "unavailable", "cannot verify the ingest key: database unreachable", { retryAfter: 5 })
        }
        if (Option.isNone(found.right)) return yield* problem(401, "unauthorized", "unknown ingest key")
        const gateway = found.right.value
        if (gateway.disabled) return yield* problem(403, "forbidden", `gateway ${gateway.id} is disabled`)

        const mode = contentModeOf(headers["content-type"], headers)
        if (Either.isLeft(mode)) return yield* fromProblem(mode.left)

        // A gateway already past its bytes is refused before its body is read (its debt does not
        // depend on this request); the body's own bytes are counted once it is decoded, below.
        const owing = byteRate.owes(gateway, yield* Clock.currentTimeMillis)
        if (!owing.allowed) return yield* bytesRateLimited(gateway, owing.retryAfterSeconds)

        hold = bodies.hold(gateway.id, gateway.vendorId)
        const raw = yield* readBody(NodeHttpServerRequest.toIncomingMessage(request), settings.maxBodyBytes, hold.take).pipe(Effect.either)
        if (Either.isLeft(raw)) {
          byteRate.chargeRefused(gateway, raw.left, "read", 0, yield* Clock.currentTimeMillis)
          return yield* fromProblem(raw.left)
        }
        const nowMs = yield* Clock.currentTimeMillis
        if (gateway.signingSecret === null) return yield* admit(request, mode.right, gateway, raw.right, nowMs)
        // Binary mode carries the event's attributes in headers: they are signed with the body.
        const headerBlock = mode.right === "binary" ? binaryHeaderBlock(headers) : ""
        const verified = yield* verifySignature({
          header: headers["x-machpay-signature"],
          body: raw.right,
          headerBlock,
          secret: gateway.signingSecret,
          nowSeconds: Math.floor(nowMs / 1000),
          toleranceSeconds
        }).pipe(Effect.either)
        if (Either.isLeft(verified)) {
          return yield* problem(401, "bad_signature", verified.left.message, { field: "x-machpay-signature" })
        }
        // Keyed on what was verified, claimed before anything is written (dead letters included),
        // so a concurrent copy is refused too; released unless the request was accepted, so a
        // request answered 429/503 (or refused whole) may be re-sent exactly as it was.
        const replay = replayKey(gateway.id, verified.right, raw.right, headerBlock)
        if (!replays.claim(replay, Math.floor(nowMs / 1000))) {
          return yield* problem(401, "replayed_request", "this signed request (same timestamp, body and, in binary mode, signed headers) was already accepted", {
            field: "x-machpay-signature"
          })
        }
        const accepted = { value: false }
        return yield* admit(request, mode.right, gateway, raw.right, nowMs, accepted).pipe(
          Effect.ensuring(Effect.sync(() => {
            if (!accepted.value) replays.release(replay)
          }))
        )
      }).pipe(
        Effect.ensuring(Effect.sync(() => hold?.release())),
        Effect.catchAll(render),
        Effect.withSpan("Ingest.handle", HOT_SPAN)
      )
    }

    /** Decode, rate-limit, validate, submit and answer; `accepted` is set once something was kept. */
    const admit = (
      request: HttpServerRequest.HttpServerRequest,
      mode: ContentMode,
      gateway: GatewayIdentity,
      raw: Uint8Array,
      nowMs: number,
      accepted: { value: boolean } = { value: false }
    ) =>
      Effect.gen(function*() {
        const headers = request.headers
        const body = yield* decodeContentEncoding(headers["content-encoding"], raw, settings.maxDecompressedBytes).pipe(
          Effect.either
        )
        if (Either.isLeft(body)) {
          byteRate.chargeRefused(gateway, body.left, "decode", raw.byteLength, nowMs)
          return yield* fromProblem(body.left)
        }
        // Bytes before events, and before the body is parsed: a gateway sending a few very large
        // events stays within its event rate while its bytes cost everyone parsing, copying,
        // journal and database time (one 5 MB request holds the event loop for tens of ms).
        const bytes = byteRate.take(gateway, body.right.byteLength, nowMs)
        if (!bytes.allowed) return yield* bytesRateLimited(gateway, bytes.retryAfterSeconds)

        const candidates = candidatesOf(mode, {
          contentType: headers["content-type"],
          headers,
          body: body.right,
          gatewayId: gateway.id,
          maxEvents: settings.maxEventsPerRequest
        })
        if (Either.isLeft(candidates)) return yield* fromProblem(candidates.left)
        const eventRate = gateway.rateLimitPerSec ?? settings.rateLimitPerSec
        const rate = limiter.take(gateway.id, candidates.right.length, eventRate, nowMs)
        if (!rate.allowed) {
          return yield* problem(429, "rate_limited", `gateway ${gateway.id} exceeded its event rate (${eventRate} events per second)`, {
            retryAfter: rate.retryAfterSeconds
          })
        }

        const context = {
          gatewayId: gateway.id,
          now: nowMs,
          maxAgeMs: Duration.toMillis(settings.maxEventAge),
          maxSkewMs: Duration.toMillis(settings.maxClockSkew)
        }
        const valid: Array<{ readonly index: number; readonly event: IngestEvent }> = []
        const rejected: Array<Rejection> = []
        // In slices: a 10,000-event request does not hold the event loop for every other gateway.
        yield* forEachInSlices(candidates.right, (candidate) => {
          const result = validateCandidate(candidate, context)
          if (Either.isRight(result)) valid.push({ index: candidate.index, event: result.right })
          else rejected.push(result.left)
        })
        yield* recordReceived(valid, rejected)

        const waitForCommit = wantsCommit(headers["prefer"])
        const submitted = valid.length === 0
          ? Either.right({ outcomes: [], committed: false })
          : yield* pipeline.submit(valid.map((v) => v.event), { waitForCommit }).pipe(Effect.either)
        if (Either.isLeft(submitted)) {
          return yield* submitted.left._tag === "PipelineFull"
            ? problem(503, "overloaded", `${submitted.left.reason}; retry later`, { retryAfter: submitted.left.retryAfterSeconds })
            : problem(503, "shutting_down", "the receiver is shutting down; retry later", { retryAfter: 5 })
        }
        // Accepted: from here the answer is final, so its rejections are kept and a signed copy
        // of this request is a replay. (After a 503 nothing was written: the retry starts clean.)
        accepted.value = true
        if (rejected.length > 0) yield* deadLetters.record(gateway.id, rejected, nowMs)
        const outcomes = valid.map((v, i) => outcomeOf(v.event, v.index, submitted.right.outcomes[i] ?? "accepted"))
        // Valid events are in request order already; only a mix with rejections needs sorting.
        const results: Array<IngestOutcome> = rejected.length === 0
          ? outcomes
          : [...outcomes, ...rejected.map(rejectionOutcome)].sort((a, b) => a.index - b.index)
        const counts = { accepted: 0, duplicate: 0, rejected: 0 }
        for (const r of results) counts[r.status] += 1
        const response: IngestResponse = { ...counts, committed: submitted.right.committed, results }
        if (valid.length === 0) {
          const foreign = rejected.every((r) => r.foreignGateway === true)
          return foreign
            ? yield* problem(403, "forbidden", rejected[0]?.reason ?? "events speak for another gateway", {
              field: rejected[0]?.field ?? "source"
            })
            : HttpServerResponse.unsafeJson(response, { status: 400 })
        }
        // Every event refused (at admission, or by the database for a caller that waited): a 400
        // tells the gateway that re-sending the same request cannot help.
        if (counts.accepted + counts.duplicate === 0) return HttpServerResponse.unsafeJson(response, { status: 400 })
        return HttpServerResponse.unsafeJson(response, {
          status: submitted.right.committed ? 200 : 202,
          headers: waitForCommit ? { "preference-applied": "wait=commit" } : {}
        })
      })

    return handlers.handleRaw("ingest", ({ request }) => handle(request))
  }))
