/**
 * The ingest handler in process (`NodeHttpServer.layerTest`) over the in-memory store, journal
 * and gateway directory, spoken to through `HttpApiClient` built from the same contract: each
 * error decodes into the contract's tagged error, with its status and `Retry-After` where it has one.
 */
import { HttpApi, HttpApiBuilder, HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Logger, LogLevel } from "effect"
import { randomBytes } from "node:crypto"
import type { CloudEventWire } from "../../schema/index.js"
import { HealthChecks } from "../../src/health/HealthChecks.js"
import { IngestApi } from "../../src/ingest/Api.js"
import { DeadLettersLive } from "../../src/ingest/DeadLetters.js"
import { EventStoreInMemory, InMemoryStore } from "../../src/ingest/EventStoreInMemory.js"
import { GatewayDirectory } from "../../src/ingest/GatewayAuth.js"
import { IngestHttpLive } from "../../src/ingest/Http.js"
import { IngestPipelineLive } from "../../src/ingest/Pipeline.js"
import { CommittedEvents } from "../../src/ingest/PipelineService.js"
import { JournalInMemory } from "../../src/journal/JournalInMemory.js"
import { wireEvent } from "../support/ingestEvents.js"

const KEY = `mpk_live_${randomBytes(32).toString("base64url")}`
const DISABLED = `mpk_live_${randomBytes(32).toString("base64url")}`
const UNKNOWN = `mpk_live_${randomBytes(32).toString("base64url")}`

/** Same API id as the server's, so the handler group built on the full API serves it. */
const IngestTestApi = HttpApi.make("machpay-telemetry").add(IngestApi)

const gateway = (id: string, key: string, disabled = false) => ({
  id,
  key,
  vendorId: "v1",
  rateLimitPerSec: 3,
  signingSecret: null,
  disabled
})

const config = ConfigProvider.fromMap(new Map([["INGEST_DURABILITY", "memory"], ["INGEST_QUEUE_CAPACITY", "1000"]]))

const ServerLive = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(IngestTestApi).pipe(Layer.provide(IngestHttpLive))),
  Layer.provide(IngestPipelineLive),
  Layer.provide(CommittedEvents.None),
  Layer.provide(HealthChecks.Live),
  Layer.provide(JournalInMemory()),
  Layer.provideMerge(DeadLettersLive),
  Layer.provideMerge(EventStoreInMemory),
  Layer.provide(GatewayDirectory.InMemory([gateway("gw-1", KEY), gateway("gw-off", DISABLED, true)])),
  Layer.provideMerge(NodeHttpServer.layerTest),
  Layer.provide(Layer.setConfigProvider(config)),
  Layer.provide(Logger.minimumLogLevel(LogLevel.Error))
)

const clientWith = (key: string, headers: Readonly<Record<string, string>> = {}) =>
  HttpApiClient.make(IngestTestApi, {
    transformClient: HttpClient.mapRequest((request) =>
      request.pipe(HttpClientRequest.bearerToken(key), HttpClientRequest.setHeaders(headers))
    )
  })

const event = (id: string, gatewayId = "gw-1") =>
  wireEvent("PaymentAuthorized", { id, time: new Date(Date.now() - 1000).toISOString(), gateway: gatewayId }) as unknown as
    typeof CloudEventWire.Encoded

/** A raw request, for what the typed client cannot send (bad JSON, wrong media type). */
const post = (body: string, contentType: string) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(
      HttpClientRequest.post("/v1/ingest").pipe(
        HttpClientRequest.bearerToken(KEY),
        HttpClientRequest.bodyText(body, contentType)
      )
    )
    return { status: response.status, headers: response.headers, body: yield* response.json }
  }).pipe(Effect.scoped)

describe("POST /v1/ingest in process (typed client on the contract)", () => {
  it.live("a batch is accepted; with wait=commit it is answered after the store has it", () =>
    Effect.gen(function*() {
      const client = yield* clientWith(KEY, { prefer: "wait=commit" })
      const response = yield* client.ingest.ingest({ payload: [event("h-1"), event("h-2")] })
      expect(response).toMatchObject({ accepted: 2, committed: true })
      const tables = yield* InMemoryStore
      expect(tables.raw.size).toBe(2)
    }).pipe(Effect.provide(ServerLive)))

  it.live("each refusal is the contract's tagged error with its status", () =>
    Effect.gen(function*() {
      const unknown = yield* (yield* clientWith(UNKNOWN)).ingest.ingest({ payload: [event("u-1")] }).pipe(Effect.flip)
      expect(unknown).toMatchObject({ _tag: "IngestUnauthorized", error: "unauthorized" })

      const malformed = yield* (yield* clientWith("not-a-key")).ingest.ingest({ payload: [event("m-1")] }).pipe(Effect.flip)
      expect(malformed).toMatchObject({ _tag: "IngestUnauthorized" })

      const disabled = yield* (yield* clientWith(DISABLED)).ingest.ingest({ payload: [event("d-1", "gw-off")] }).pipe(Effect.flip)
      expect(disabled).toMatchObject({ _tag: "IngestForbidden" })

      const foreign = yield* (yield* clientWith(KEY)).ingest.ingest({ payload: [event("f-1", "gw-other")] }).pipe(Effect.flip)
      expect(foreign).toMatchObject({ _tag: "IngestForbidden" })

      const badJson = yield* post("{not json", "application/cloudevents+json")
      expect(badJson).toMatchObject({ status: 400, body: { _tag: "IngestBadRequest", error: "invalid_json", field: "body" } })
      const media = yield* post("hello", "text/plain")
      expect(media).toMatchObject({ status: 415, body: { _tag: "IngestUnsupportedMedia", field: "content-type" } })
    }).pipe(Effect.provide(ServerLive)))

  it.live("429 carries retryAfterSeconds in the body and the Retry-After header", () =>
    Effect.gen(function*() {
      const client = yield* clientWith(KEY)
      // The gateway's rate is 3 events/s: a batch of 5 overdraws the bucket, the next request waits.
      yield* client.ingest.ingest({ payload: [1, 2, 3, 4, 5].map((n) => event(`r-${n}`)) })
      const limited = yield* client.ingest.ingest({ payload: [event("r-6")] }).pipe(Effect.flip)
      expect(limited).toMatchObject({ _tag: "IngestRateLimited", error: "rate_limited" })
      expect((limited as { retryAfterSeconds?: number }).retryAfterSeconds).toBeGreaterThanOrEqual(1)

      const raw = yield* post(JSON.stringify([1, 2, 3, 4, 5].map((n) => event(`r2-${n}`))), "application/cloudevents-batch+json")
      expect(raw.status).toBe(429)
      expect(Number(raw.headers["retry-after"])).toBeGreaterThanOrEqual(1)
      expect(raw.body).toMatchObject({ _tag: "IngestRateLimited", error: "rate_limited" })
    }).pipe(Effect.provide(ServerLive)))
})
