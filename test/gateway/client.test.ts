/**
 * The gateway client against a fake receiver (a real `node:http` server in the test): wire
 * format and signature (verified with the server's own verifier), batching, Retry-After,
 * backoff, drops when the receiver stays away, the readiness check, intents to settlement and
 * receiver, and the telemetry packet with its config block. Time-dependent behaviour runs on
 * the TestClock; waits on real sockets only wait, they assert nothing about speed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Logger, Scope, TestClock } from "effect"
import type { CloudEventJson } from "../../schema/CloudEvent.js"
import { verifySignature } from "../../src/identity/RequestSignature.js"
import { type GatewayClientOptions, makeGatewayClient } from "../../gateway/Client.js"
import { httpSettlementSink } from "../../gateway/Settlement.js"
import { retryAfterSeconds } from "../../gateway/Send.js"
import type { PacketJson } from "../../gateway/Window.js"
import { eventually, fakeReceiver, realPause } from "./fakeReceiver.js"

const SECRET = "whsec_gateway_test"

const event = (n: number): CloudEventJson => ({
  specversion: "1.0",
  id: `e-${n}`,
  source: "machpay://gateway/gw-1",
  type: "PaymentAuthorized",
  time: new Date(0).toISOString(),
  data: { n }
} as CloudEventJson)

const options = (url: string, more: Partial<GatewayClientOptions> = {}): GatewayClientOptions => ({
  gatewayId: "gw-1",
  receiverUrl: url,
  ingestKey: "mpk_live_test",
  signingSecret: SECRET,
  maxBatchEvents: 3,
  maxBatchDelay: "100 millis",
  ...more
})

const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ message }) => lines.push(Array.isArray(message) ? message.join(" ") : String(message)))
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

const eventsOf = (json: unknown) => json as Array<CloudEventJson>

describe("gateway client", () => {
  it.scoped("sends gzipped, signed batches the server's verifier accepts", () =>
    Effect.gen(function*() {
      const receiver = yield* fakeReceiver
      const client = yield* makeGatewayClient(options(receiver.url))
      yield* Effect.forEach([1, 2, 3], (n) => client.send(event(n)))
      yield* eventually(() => receiver.ingests().length === 1, "one request")
      const request = receiver.ingests()[0]!
      expect(request.headers["authorization"]).toBe("Bearer mpk_live_test")
      expect(request.headers["content-type"]).toBe("application/cloudevents-batch+json")
      expect(request.headers["content-encoding"]).toBe("gzip")
      expect(eventsOf(request.json).map((e) => e.id)).toEqual(["e-1", "e-2", "e-3"])
      const header = request.headers["x-machpay-signature"] as string
      const t = Number(/^t=(\d+),/.exec(header)?.[1])
      const verified = yield* verifySignature({ header, body: request.raw, secret: SECRET, nowSeconds: t, toleranceSeconds: 300 }).pipe(Effect.either)
      expect(verified._tag).toBe("Right")
      const wrong = yield* verifySignature({ header, body: request.raw, secret: "other", nowSeconds: t, toleranceSeconds: 300 }).pipe(Effect.either)
      expect(wrong._tag).toBe("Left")
      yield* client.flush
      expect((yield* client.stats).accepted).toBe(3)
    }))

  it.scoped("batches by size at once and by time after maxBatchDelay", () =>
    Effect.gen(function*() {
      const receiver = yield* fakeReceiver
      const client = yield* makeGatewayClient(options(receiver.url))
      yield* Effect.forEach([1, 2, 3, 4, 5, 6, 7], (n) => client.send(event(n)))
      yield* eventually(() => receiver.ingests().length === 2, "two full batches")
      yield* realPause(50)
      expect(receiver.ingests()).toHaveLength(2)
      yield* TestClock.adjust("100 millis")
      yield* eventually(() => receiver.ingests().length === 3, "the partial batch")
      expect(receiver.ingests().map((r) => eventsOf(r.json).length)).toEqual([3, 3, 1])
    }))

  for (const status of [503, 429]) {
    it.scoped(`waits exactly Retry-After on ${status}, then re-sends with a fresh signature`, () =>
      Effect.gen(function*() {
        const receiver = yield* fakeReceiver
        receiver.script.push({ status, headers: { "retry-after": "7" }, body: { error: "overloaded", message: "retry later" } })
        const client = yield* makeGatewayClient(options(receiver.url))
        yield* Effect.forEach([1, 2, 3], (n) => client.send(event(n)))
        yield* eventually(() => receiver.ingests().length === 1, "the first attempt")
        yield* realPause(20)
        yield* TestClock.adjust("6999 millis")
        yield* realPause(50)
        expect(receiver.ingests()).toHaveLength(1)
        yield* TestClock.adjust("1 millis")
        yield* eventually(() => receiver.ingests().length === 2, "the retry")
        const [first, second] = receiver.ingests()
        expect(second!.raw.equals(first!.raw)).toBe(true)
        expect(second!.headers["x-machpay-signature"]).not.toBe(first!.headers["x-machpay-signature"])
        yield* client.flush
        const stats = yield* client.stats
        expect(stats.retries.retryAfter).toBe(1)
        expect(stats.accepted).toBe(3)
      }))
  }

  it("reads Retry-After as seconds or as an HTTP date", () => {
    expect(retryAfterSeconds("12", 0)).toBe(12)
    expect(retryAfterSeconds(new Date(30_000).toUTCString(), 0)).toBe(30)
    expect(retryAfterSeconds(undefined, 0, 2)).toBe(2)
  })

  it.scoped("retries lost connections and 5xx with growing, jittered backoff", () =>
    Effect.gen(function*() {
      const receiver = yield* fakeReceiver
      receiver.script.push("reset", { status: 500, body: {} })
      const client = yield* makeGatewayClient(options(receiver.url, { retry: { baseDelay: "1 second", maxDelay: "10 seconds" } }))
      yield* Effect.forEach([1, 2, 3], (n) => client.send(event(n)))
      yield* eventually(() => receiver.ingests().length === 1, "the first attempt")
      yield* realPause(20)
      // The first retry comes within [0.5 s, 1 s], the second within [1 s, 2 s] after it.
      yield* TestClock.adjust("1 second")
      yield* eventually(() => receiver.ingests().length === 2, "the first retry")
      yield* realPause(20)
      yield* TestClock.adjust("2 seconds")
      yield* eventually(() => receiver.ingests().length === 3, "the second retry")
      yield* client.flush
      const stats = yield* client.stats
      expect(stats.retries.transient).toBe(2)
      expect(stats.accepted).toBe(3)
    }))

  it.scoped("treats a replayed_request answer as delivered, other 4xx as refused and dropped", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const receiver = yield* fakeReceiver
      receiver.script.push(
        { status: 401, body: { error: "replayed_request", message: "already accepted" } },
        { status: 403, body: { error: "forbidden", message: "gateway disabled" } }
      )
      const client = yield* makeGatewayClient(options(receiver.url))
      yield* Effect.forEach([1, 2, 3, 4, 5, 6], (n) => client.send(event(n)))
      yield* client.flush
      const stats = yield* client.stats
      expect(stats.accepted).toBe(3)
      expect(stats.dropped.refused).toBe(3)
      expect(logs.lines.some((l) => l.includes("dropped 3 event(s) (refused)") && l.includes("forbidden: gateway disabled"))).toBe(true)
    }).pipe(Effect.provide(logs.layer))
  })

  it.scopedLive("says clearly when the receiver is unreachable, then buffers, drops, counts and logs", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const receiver = yield* fakeReceiver
      const url = receiver.url
      yield* Effect.async<void>((resume) => {
        receiver.server.close(() => resume(Effect.void))
      })
      const scope = yield* Scope.make()
      const client = yield* makeGatewayClient(options(url, {
        bufferCapacity: 4,
        maxBatchEvents: 2,
        maxBatchDelay: "1 millis",
        retry: { baseDelay: "1 millis", maxDelay: "2 millis", maxAttempts: 3 },
        shutdownTimeout: "1 second"
      })).pipe(Scope.extend(scope))
      expect(logs.lines.some((l) => l.includes(`receiver ${url} is not reachable (ECONNREFUSED)`))).toBe(true)
      const offered = yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => event(i)), (e) => client.send(e))
      expect(offered.filter((ok) => !ok).length).toBeGreaterThan(0)
      yield* client.flush
      const stats = yield* client.stats
      expect(stats.dropped.buffer_full + stats.dropped.gave_up).toBe(10)
      expect(stats.dropped.buffer_full).toBe(offered.filter((ok) => !ok).length)
      expect(logs.lines.some((l) => l.includes("outbox full"))).toBe(true)
      expect(logs.lines.some((l) => l.includes("(gave_up): no delivery after 3 attempts (last: ECONNREFUSED)"))).toBe(true)
      yield* Scope.close(scope, Exit.void)
    }).pipe(Effect.provide(logs.layer))
  })

  it.scopedLive("counts what is still unsent when the shutdown timeout runs out as dropped", () =>
    Effect.gen(function*() {
      const receiver = yield* fakeReceiver
      for (let i = 0; i < 5; i++) receiver.script.push({ status: 503, headers: { "retry-after": "3600" }, body: { error: "overloaded", message: "later" } })
      const scope = yield* Scope.make()
      const client = yield* makeGatewayClient(options(receiver.url, { maxBatchDelay: "1 millis", shutdownTimeout: "100 millis" })).pipe(Scope.extend(scope))
      yield* Effect.forEach([1, 2, 3, 4], (n) => client.send(event(n)))
      yield* eventually(() => receiver.ingests().length >= 1, "the first attempt")
      yield* Scope.close(scope, Exit.void)
      const stats = yield* client.stats
      expect(stats.accepted).toBe(0)
      expect(stats.dropped.gave_up).toBe(4)
    }))

  it.scoped("refuses to start when asked to require a ready receiver that is not ready", () =>
    Effect.gen(function*() {
      const receiver = yield* fakeReceiver
      receiver.ready = 503
      const failed = yield* makeGatewayClient(options(receiver.url, { requireReady: true })).pipe(Effect.flip)
      expect(failed._tag).toBe("ReceiverNotReady")
      expect(failed.message).toContain(`receiver ${receiver.url} is reachable but not ready (HTTP 503`)
      expect(failed.message).toContain("database unreachable")
    }))

  it.scoped("sends each payment intent to the settlement sink and to the receiver", () =>
    Effect.gen(function*() {
      const receiver = yield* fakeReceiver
      const client = yield* makeGatewayClient(options(receiver.url, { settlement: httpSettlementSink(`${receiver.url}/settle`) }))
      const intent = { gateway_id: "gw-1", intent_id: "int-1", agent_id: "agent-1", status: "pending" as const, amount: "2.5", asset: "USDC", network: "base" }
      yield* client.emitIntent(intent)
      yield* TestClock.adjust("100 millis")
      yield* client.flush
      expect(receiver.settled).toEqual([intent])
      const sent = receiver.ingests().flatMap((r) => eventsOf(r.json))
      expect(sent).toHaveLength(1)
      expect(sent[0]).toMatchObject({ type: "PaymentIntent", source: "machpay://gateway/gw-1", data: intent })
      expect((yield* client.stats).settlement).toEqual({ ok: 1, failed: 0 })
    }))

  it.scoped("sends a packet every 60 s with the config block first, and again when the revision changes", () =>
    Effect.gen(function*() {
      const receiver = yield* fakeReceiver
      const client = yield* makeGatewayClient(options(receiver.url, {
        maxBatchEvents: 1,
        config: { revision: "r1", settings: { relayer_url: "http://relayer" } }
      }))
      const packets = () =>
        receiver.ingests().flatMap((r) => eventsOf(r.json)).filter((e) => e.type === "GatewayTelemetryPacket").map((e) => e.data as PacketJson)
      yield* client.recordRequest({ method: "GET", route: "/a", outcome: "paid", amount: "0.25", agentId: "x", latencyMs: 10 })
      yield* client.recordRequest({ method: "GET", route: "/a", outcome: "blocked", agentId: "y", latencyMs: 3 })
      yield* client.recordRequest({ method: "POST", route: "/b", outcome: "paid", amount: "1.125", agentId: "x", latencyMs: 30 })
      yield* client.recordRequest({ method: "POST", route: "/b", outcome: "error", latencyMs: 50 })
      yield* TestClock.adjust("59 seconds")
      yield* realPause(50)
      expect(packets()).toHaveLength(0)
      yield* TestClock.adjust("1 second")
      yield* eventually(() => packets().length === 1, "the first packet")
      const first = packets()[0]!
      expect(first.config).toEqual({ revision: "r1", settings: { relayer_url: "http://relayer" } })
      expect(first).toMatchObject({
        window_seconds: 60, requests_total: 4, requests_paid: 2, requests_blocked: 1, requests_error: 1, payments_count: 2,
        unique_agents: 2, revenue: "1.375"
      })
      expect(first.routes.reduce((n, r) => n + r.requests, 0)).toBe(first.requests_total)
      expect(first.routes.map((r) => r.revenue)).toEqual(["0.25", "1.125"])

      yield* TestClock.adjust("60 seconds")
      yield* eventually(() => packets().length === 2, "the second packet")
      expect(packets()[1]!.config).toBeUndefined()
      expect(packets()[1]!.requests_total).toBe(0)

      yield* TestClock.adjust("10 seconds")
      yield* client.setConfig({ revision: "r1", settings: { relayer_url: "http://relayer" } })
      yield* realPause(50)
      expect(packets()).toHaveLength(2)
      yield* client.setConfig({ revision: "r2", settings: { relayer_url: "http://relayer-2" } })
      yield* eventually(() => packets().length === 3, "the packet carrying the new config")
      expect(packets()[2]!.config?.revision).toBe("r2")
      expect(packets()[2]!.window_seconds).toBe(10)
      expect((yield* client.stats).configsSent).toBe(2)
    }))

  it.scoped("sends the open window and drains the outbox when its scope closes", () =>
    Effect.gen(function*() {
      const receiver = yield* fakeReceiver
      const scope = yield* Scope.make()
      const client = yield* makeGatewayClient(options(receiver.url, { maxBatchEvents: 100, maxBatchDelay: "1 millis" })).pipe(Scope.extend(scope))
      yield* client.send(event(1))
      yield* client.recordRequest({ method: "GET", route: "/a", outcome: "free", latencyMs: 1 })
      const closing = yield* Scope.close(scope, Exit.void).pipe(Effect.fork)
      yield* realPause(20)
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(closing)
      const types = receiver.ingests().flatMap((r) => eventsOf(r.json)).map((e) => e.type)
      expect(types.sort()).toEqual(["GatewayTelemetryPacket", "PaymentAuthorized"])
    }))
})
