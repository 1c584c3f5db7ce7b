/**
 * The ingest handler in process (`NodeHttpServer.layerTest`) over the in-memory store, journal
 * and gateway directory, spoken to through `HttpApiClient` built from the same contract: each
 * error decodes into the contract's tagged error, with its status and `Retry-After` where it has one.
 */
import { HttpApi, HttpApiBuilder, HttpApiClient, HttpClient, HttpClientRequest, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer, Logger, LogLevel, Scope } from "effect"
import { randomBytes } from "node:crypto"
import * as net from "node:net"
import { gzipSync } from "node:zlib"
import type { CloudEventWire } from "../../schema/index.js"
import { HealthChecks } from "../../src/health/HealthChecks.js"
import { IngestApi } from "../../src/ingest/Api.js"
import { DeadLettersLive } from "../../src/ingest/DeadLetters.js"
import { EventStoreInMemory, InMemoryStore } from "../../src/ingest/EventStoreInMemory.js"
import { GatewayDirectory } from "../../src/ingest/GatewayAuth.js"
import { IngestHttpLive, wantsCommit } from "../../src/ingest/Http.js"
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
  rateLimitBytesPerSec: null as number | null,
  signingSecret: null,
  disabled
})

const config = ConfigProvider.fromMap(new Map([["INGEST_DURABILITY", "memory"], ["INGEST_QUEUE_CAPACITY", "1000"]]))

/** The ingest handler over in-memory parts, served on a test server. */
const serverWith = (settings: ConfigProvider.ConfigProvider, gateways: ReadonlyArray<ReturnType<typeof gateway>>) =>
  HttpApiBuilder.serve().pipe(
    Layer.provide(HttpApiBuilder.api(IngestTestApi).pipe(Layer.provide(IngestHttpLive))),
    Layer.provide(IngestPipelineLive),
    Layer.provide(CommittedEvents.None),
    Layer.provide(HealthChecks.Live),
    Layer.provide(JournalInMemory()),
    Layer.provideMerge(DeadLettersLive),
    Layer.provideMerge(EventStoreInMemory),
    Layer.provide(GatewayDirectory.InMemory(gateways)),
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provide(Layer.setConfigProvider(settings)),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Error))
  )

const ServerLive = serverWith(config, [gateway("gw-1", KEY), gateway("gw-off", DISABLED, true)])

/** A server in memory mode with these settings, for gateways allowed 1,000 events a second. */
const memoryServer = (entries: ReadonlyArray<readonly [string, string]>, gateways: ReadonlyArray<ReturnType<typeof gateway>>) =>
  serverWith(
    ConfigProvider.fromMap(new Map([["INGEST_DURABILITY", "memory"], ...entries])),
    gateways.map((g) => ({ ...g, rateLimitPerSec: 1000 }))
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

const KEY_2 = `mpk_live_${randomBytes(32).toString("base64url")}`

/** Small body budgets: one gateway may hold 2,500 bytes of bodies at once, all gateways 3,500. */
const BudgetServerLive = memoryServer([
  ["INGEST_MAX_BODY_BYTES", "1000"],
  ["INGEST_MAX_BODY_BYTES_IN_FLIGHT_PER_GATEWAY", "2500"],
  ["INGEST_MAX_BODY_BYTES_IN_FLIGHT", "3500"]
], [gateway("gw-1", KEY), gateway("gw-2", KEY_2)])

/** A request whose body never finishes: headers declare `length`, 10 bytes follow, the socket stays open. */
const unfinished = (port: number, key: string, length: number) =>
  Effect.acquireRelease(
    Effect.async<net.Socket>((resume) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.write(`POST /v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n` +
          `Content-Type: application/cloudevents+json\r\nContent-Length: ${length}\r\n\r\n[[[[[[[[[[`)
        resume(Effect.succeed(socket))
      })
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

const postAs = (key: string, id: string, gatewayId: string) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(HttpClientRequest.post("/v1/ingest").pipe(
      HttpClientRequest.bearerToken(key),
      HttpClientRequest.bodyText(JSON.stringify(event(id, gatewayId)), "application/cloudevents+json")
    ))
    return { status: response.status, retryAfter: response.headers["retry-after"], body: yield* response.json }
  }).pipe(Effect.scoped)

/** Repeats `self` until `done` holds (a condition the server reaches shortly), for at most 5 s. */
const until = <A, E, R>(self: Effect.Effect<A, E, R>, done: (a: A) => boolean) => {
  const loop: Effect.Effect<A, E, R> = Effect.flatMap(self, (a) => (done(a) ? Effect.succeed(a) : Effect.zipRight(Effect.sleep("20 millis"), loop)))
  return Effect.timeoutFail(loop, { duration: "5 seconds", onTimeout: () => new Error("condition not reached in 5 s") })
}

describe("request bodies held at once are bounded (in total and per gateway)", () => {
  it.live("a gateway holding its share of unfinished bodies gets 503 + Retry-After; another gateway goes on; the share comes back when they close", () =>
    Effect.gen(function*() {
      const server = yield* HttpServer.HttpServer
      const port = (server.address as HttpServer.TcpAddress).port
      const held = yield* Scope.make()
      // Closed on failure too: an open socket would hold the test server's shutdown.
      yield* Effect.addFinalizer(() => Scope.close(held, Exit.void))
      // gw-1 declares two bodies of 1,000 bytes and never sends them: 2,000 of its 2,500 held.
      yield* unfinished(port, KEY, 1000).pipe(Scope.extend(held))
      yield* unfinished(port, KEY, 1000).pipe(Scope.extend(held))
      // Its next request (≈ 400 bytes) would pass 2,500: refused, once the server has read the headers above.
      const refused = yield* until(postAs(KEY, "b-1", "gw-1"), (r) => r.status === 503)
      expect(refused.body).toMatchObject({ _tag: "IngestUnavailable", error: "too_many_bodies", field: "body" })
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1)
      // gw-2 is not held back by gw-1's share.
      expect((yield* postAs(KEY_2, "b-2", "gw-2")).status).toBe(202)
      // gw-2 holds one unfinished body too: 3,000 of the 3,500 in total; a 1,000-byte body of gw-2
      // (within its own share) is refused for the total.
      yield* unfinished(port, KEY_2, 1000).pipe(Scope.extend(held))
      yield* Effect.sleep("100 millis")
      const client = yield* HttpClient.HttpClient
      const big = yield* client.execute(HttpClientRequest.post("/v1/ingest").pipe(
        HttpClientRequest.bearerToken(KEY_2),
        HttpClientRequest.bodyText(JSON.stringify(event("b-3", "gw-2")).padEnd(1000, " "), "application/cloudevents+json")
      )).pipe(Effect.flatMap((r) => Effect.map(r.json, (body) => ({ status: r.status, body }))), Effect.scoped)
      expect(big).toMatchObject({ status: 503, body: { error: "too_many_bodies" } })
      // The unfinished requests are abandoned: what they held is given back.
      yield* Scope.close(held, Exit.void)
      const again = yield* until(postAs(KEY, "b-4", "gw-1"), (r) => r.status === 202)
      expect(again.status).toBe(202)
    }).pipe(Effect.scoped, Effect.provide(BudgetServerLive)))
})

/** 2,000 bytes of bodies per second per gateway; events are not what limits here. */
const ByteRateServerLive = memoryServer(
  [["INGEST_RATE_LIMIT_BYTES_PER_SEC", "2000"], ["INGEST_MAX_DECOMPRESSED_BYTES", "5000"]],
  [gateway("gw-1", KEY), gateway("gw-2", KEY_2)]
)

/** One event padded with spaces to `bytes` (valid JSON: whitespace after the value). */
const paddedPost = (key: string, id: string, gatewayId: string, bytes: number) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(HttpClientRequest.post("/v1/ingest").pipe(
      HttpClientRequest.bearerToken(key),
      HttpClientRequest.bodyText(JSON.stringify(event(id, gatewayId)).padEnd(bytes, " "), "application/cloudevents+json")
    ))
    return { status: response.status, retryAfter: response.headers["retry-after"], body: yield* response.json }
  }).pipe(Effect.scoped)

describe("bytes per second per gateway (INGEST_RATE_LIMIT_BYTES_PER_SEC)", () => {
  it.live("a gateway past its bytes gets 429 naming the setting, before its body is parsed; nothing of it is stored; another gateway goes on", () =>
    Effect.gen(function*() {
      const tables = yield* InMemoryStore
      // 1,500 + 1,500 bytes overdraw the 2,000 of a second (a request is not refused while the
      // bucket is not empty); the third waits for the debt to be paid.
      expect((yield* paddedPost(KEY, "y-1", "gw-1", 1500)).status).toBe(202)
      expect((yield* paddedPost(KEY, "y-2", "gw-1", 1500)).status).toBe(202)
      const refused = yield* paddedPost(KEY, "y-3", "gw-1", 1500)
      expect(refused.status).toBe(429)
      expect(refused.body).toMatchObject({ _tag: "IngestRateLimited", error: "rate_limited", field: "body" })
      expect((refused.body as { message: string }).message).toContain("INGEST_RATE_LIMIT_BYTES_PER_SEC")
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1)
      // Even a body that is not JSON is refused for its bytes, not parsed.
      expect((yield* post("{not json", "application/cloudevents+json")).status).toBe(429)
      // While it owes bytes, it is answered before its body is read: a body that never comes.
      const server = yield* HttpServer.HttpServer
      const socket = yield* unfinished((server.address as HttpServer.TcpAddress).port, KEY, 100_000)
      const head = yield* Effect.async<string>((resume) => {
        socket.once("data", (chunk) => resume(Effect.succeed(chunk.toString("latin1"))))
      }).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("no answer before the body") }))
      expect(head).toMatch(/^HTTP\/1\.1 429 /)
      // gw-2 has its own bucket.
      expect((yield* paddedPost(KEY_2, "y-4", "gw-2", 1500)).status).toBe(202)
      const stored = [...tables.raw.values()].map((e) => e.id).sort()
      expect(stored).toEqual(["y-1", "y-2", "y-4"])
      // The debt is paid at 2,000 bytes/s: within Retry-After the gateway is served again.
      yield* Effect.sleep(`${Number(refused.retryAfter)} seconds`)
      expect((yield* paddedPost(KEY, "y-5", "gw-1", 500)).status).toBe(202)
    }).pipe(Effect.scoped, Effect.provide(ByteRateServerLive)))

  it.live("a gzip body that inflates past INGEST_MAX_DECOMPRESSED_BYTES is 413 and counts as that many bytes", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      // 10,000 spaces: about 40 bytes on the wire, 5,000 bytes inflated before the limit stops it.
      const bomb = gzipSync(Buffer.alloc(10_000, " "))
      const response = yield* client.execute(HttpClientRequest.post("/v1/ingest").pipe(
        HttpClientRequest.bearerToken(KEY),
        HttpClientRequest.setHeader("content-encoding", "gzip"),
        HttpClientRequest.bodyUint8Array(bomb, "application/cloudevents+json")
      )).pipe(Effect.scoped)
      expect(response.status).toBe(413)
      // 5,000 counted against a rate of 2,000 a second: the next request, however small, waits.
      const next = yield* paddedPost(KEY, "z-1", "gw-1", 300)
      expect(next.status).toBe(429)
      expect(next.body).toMatchObject({ error: "rate_limited", field: "body" })
      expect((yield* paddedPost(KEY_2, "z-2", "gw-2", 300)).status).toBe(202)
    }).pipe(Effect.provide(ByteRateServerLive)))
})

const KEY_3 = `mpk_live_${randomBytes(32).toString("base64url")}`

/** Per vendor 2,000 bytes; gw-1 and gw-2 are vendor v1's, gw-3 is v2's. */
const VendorBudgetServerLive = memoryServer([
  ["INGEST_MAX_BODY_BYTES", "1000"],
  ["INGEST_MAX_BODY_BYTES_IN_FLIGHT_PER_GATEWAY", "2000"],
  ["INGEST_MAX_BODY_BYTES_IN_FLIGHT_PER_VENDOR", "2000"],
  ["INGEST_MAX_BODY_BYTES_IN_FLIGHT", "10000"]
], [gateway("gw-1", KEY), gateway("gw-2", KEY_2), { ...gateway("gw-3", KEY_3), vendorId: "v2" }])

describe("request bodies held at once, per vendor", () => {
  it.live("one vendor's gateways together stop at its share; another vendor's gateway goes on", () =>
    Effect.gen(function*() {
      const server = yield* HttpServer.HttpServer
      const port = (server.address as HttpServer.TcpAddress).port
      // Vendor v1 holds 2,000 bytes with two gateways, 1,000 each (each within its own 2,000).
      yield* unfinished(port, KEY, 1000)
      yield* unfinished(port, KEY_2, 1000)
      const refused = yield* until(postAs(KEY_2, "pv-1", "gw-2"), (r) => r.status === 503)
      expect(refused.body).toMatchObject({ error: "too_many_bodies" })
      expect((yield* postAs(KEY_3, "pv-2", "gw-3")).status).toBe(202)
    }).pipe(Effect.scoped, Effect.provide(VendorBudgetServerLive)))
})

describe("Prefer: wait=commit", () => {
  it("is read as RFC 7240 allows: case, spaces, a quoted value, among other preferences", () => {
    for (const prefer of ["wait=commit", "Wait = Commit", 'wait="commit"', "respond-async, wait=commit", "handling=lenient,wait=commit"]) {
      expect(wantsCommit(prefer), prefer).toBe(true)
    }
    for (const prefer of [undefined, "", "wait=10", 'wait="commit', "return=minimal", "waitcommit"]) {
      expect(wantsCommit(prefer), String(prefer)).toBe(false)
    }
  })
})
