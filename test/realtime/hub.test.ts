/**
 * The hub in memory: topic routing and payloads, the slow-consumer cut-off, resume from the
 * history, reset when the cursor is too old (on `TestClock`), unknown or from before a gap,
 * and cross-process cursors. Plus topic parsing and the per-user stream limits.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Fiber, Metric, Scope, TestClock } from "effect"
import { type Sink, RealtimeHub } from "../../src/realtime/Hub.js"
import * as Metrics from "../../src/realtime/Metrics.js"
import { StreamRegistry } from "../../src/realtime/Streams.js"
import { parseTopics, topicSet } from "../../src/realtime/Topics.js"
import { alert, blocked, packet, payment, unknownType } from "./events.js"
import { SseParser, type SseMessage } from "./sse.js"

const hubWith = (options: Partial<Parameters<typeof RealtimeHub.make>[0]> = {}) =>
  RealtimeHub.make({ historySize: 1000, historyWindow: "5 minutes", ...options })

/** A stream as the hub sees it: what it was sent, and a switch to make it refuse live writes. */
interface TestStream {
  readonly messages: Array<SseMessage>
  readonly sink: Sink
  /** While true the client "does not read": live writes are refused. */
  full: boolean
  dropped: boolean
}

const testStream = (): TestStream => {
  const parser = new SseParser()
  const stream: TestStream = {
    messages: [],
    full: false,
    dropped: false,
    sink: {
      write: (out, replay) => {
        if (stream.full && !replay) return false
        stream.messages.push(...parser.push(out.text))
        return true
      },
      drop: () => void (stream.dropped = true)
    }
  }
  return stream
}

type Hub = Effect.Effect.Success<ReturnType<typeof hubWith>>

const connect = (hub: Hub, topics: ReadonlyArray<string>, cursor?: string) =>
  Effect.map(Effect.sync(testStream), (stream) => stream).pipe(
    Effect.tap((stream) => hub.connect(topicSet(topics), cursor, stream.sink))
  )

/** Lets the dispatcher fiber run until `stream` holds `n` messages; returns the first `n`. */
const take = (stream: TestStream, n: number) =>
  Effect.yieldNow().pipe(
    Effect.repeat({ until: () => stream.messages.length >= n, times: 500 }),
    Effect.map(() => stream.messages.slice(0, n))
  )

const settle = Effect.repeatN(Effect.yieldNow(), 50)

const json = (message: SseMessage | undefined): Record<string, unknown> => JSON.parse(message?.data ?? "null")

describe("realtime hub", () => {
  it.scoped("routes each event to its gateway, its agent and (payments only) the ticker", () =>
    Effect.gen(function*() {
      const hub = yield* hubWith()
      const ticker = yield* connect(hub, ["ticker"])
      const vendor = yield* connect(hub, ["vendor:gw_1"])
      const agent = yield* connect(hub, ["agent:a1"])
      const both = yield* connect(hub, ["ticker", "vendor:gw_1"])
      yield* hub.publish([
        payment("gw_1", "a1", "p1"),
        blocked("gw_2", "a1", "b1"),
        packet("gw_1", "t1"),
        payment("gw_2", "a2", "p2"),
        unknownType("gw_1", "u1"),
        alert("gw_2", "a2", "s1")
      ], 1_000)

      const onTicker = yield* take(ticker, 2)
      expect(onTicker.map((m) => m.event)).toEqual(["PaymentAuthorized", "PaymentAuthorized"])
      expect(onTicker.map(json)).toEqual([
        { gateway_id: "gw_1", amount: "0.25", asset: "USDC", network: "base", time: "2025-06-01T12:00:00Z" },
        { gateway_id: "gw_2", amount: "0.25", asset: "USDC", network: "base", time: "2025-06-01T12:00:00Z" }
      ])

      const onVendor = yield* take(vendor, 3)
      expect(onVendor.map((m) => json(m)["id"])).toEqual(["p1", "t1", "u1"])
      expect(onVendor.map((m) => m.event)).toEqual(["PaymentAuthorized", "GatewayTelemetryPacket", "com.example.GatewayRestarted"])
      expect(json(onVendor[0])).toMatchObject({ source: "machpay://gateway/gw_1", gateway_id: "gw_1", data: { agent_id: "a1" } })

      const onAgent = yield* take(agent, 2)
      expect(onAgent.map((m) => json(m)["id"])).toEqual(["p1", "b1"])

      // One message per event: the full form when a vendor/agent topic covers it, else the ticker form.
      const onBoth = yield* take(both, 4)
      expect(onBoth.map((m) => json(m)["id"] ?? `ticker:${json(m)["gateway_id"]}`)).toEqual(["p1", "t1", "ticker:gw_2", "u1"])
      const ids = onBoth.map((m) => m.id ?? "")
      expect(new Set(ids).size).toBe(4)
      expect(ids.every((id) => /^1000-\d+-[0-9a-f]{8}$/.test(id))).toBe(true)
    }))

  it.scoped("a stream whose send buffer is full is dropped, gets nothing more, and resumes from its last id", () =>
    Effect.gen(function*() {
      const hub = yield* hubWith()
      const before = yield* Metric.value(Metrics.slowConsumerDrops)
      const slow = yield* connect(hub, ["vendor:gw_1"])
      const other = yield* connect(hub, ["vendor:gw_1"])
      yield* hub.publish([payment("gw_1", "a1", "p1"), payment("gw_1", "a1", "p2")], 1_000)
      const [, p2] = yield* take(slow, 2)

      slow.full = true // the client stopped reading; its buffer filled up
      for (let i = 3; i <= 5; i++) yield* hub.publish([payment("gw_1", "a1", `p${i}`)], 1_000 + i)
      yield* take(other, 5)
      expect(slow.dropped).toBe(true)
      expect(slow.messages.length).toBe(2)
      expect((yield* Metric.value(Metrics.slowConsumerDrops)).count - before.count).toBe(1)
      expect(yield* hub.size).toBe(1)

      const resumed = yield* connect(hub, ["vendor:gw_1"], p2?.id)
      expect((yield* take(resumed, 3)).map((m) => json(m)["id"])).toEqual(["p3", "p4", "p5"])
    }))

  it.scoped("resumes after Last-Event-ID with the subscribed topics only, then goes live", () =>
    Effect.gen(function*() {
      const hub = yield* hubWith()
      const probe = yield* connect(hub, ["vendor:gw_1"])
      yield* hub.publish([payment("gw_1", "a1", "p1"), payment("gw_1", "a1", "p2"), payment("gw_2", "a2", "q1")], 1_000)
      yield* hub.publish([payment("gw_1", "a1", "p3")], 1_001)
      const [, p2] = yield* take(probe, 2)

      const resumed = yield* connect(hub, ["vendor:gw_1"], p2?.id)
      yield* hub.publish([payment("gw_1", "a1", "p4")], 1_002)
      const got = yield* take(resumed, 2)
      expect(got.map((m) => json(m)["id"])).toEqual(["p3", "p4"])
    }))

  it.scoped("a cursor older than the history window gets `event: reset`, then live events", () =>
    Effect.gen(function*() {
      const hub = yield* hubWith({ historyWindow: "1 minute" })
      const probe = yield* connect(hub, ["vendor:gw_1"])
      yield* hub.publish([payment("gw_1", "a1", "old")], yield* TestClock.currentTimeMillis)
      const [old] = yield* take(probe, 1)
      yield* TestClock.adjust("2 minutes")
      yield* hub.publish([payment("gw_1", "a1", "new")], yield* TestClock.currentTimeMillis)

      const resumed = yield* connect(hub, ["vendor:gw_1"], old?.id)
      yield* hub.publish([payment("gw_1", "a1", "live")], yield* TestClock.currentTimeMillis)
      const [reset, live] = yield* take(resumed, 2)
      expect(reset?.event).toBe("reset")
      expect(json(reset)).toMatchObject({ reason: "cursor_too_old" })
      expect(reset?.id).toMatch(/^120000-2-/) // the newest id, so a reconnect after the reset resumes from there
      expect(json(live)["id"]).toBe("live")

      const withinWindow = yield* connect(hub, ["vendor:gw_1"], reset?.id)
      expect((yield* take(withinWindow, 1)).map((m) => json(m)["id"])).toEqual(["live"])
    }))

  it.scoped("a Last-Event-ID replay larger than the stream's send buffer is replaced by a replay_too_large reset", () =>
    Effect.gen(function*() {
      const hub = yield* hubWith()
      const probe = yield* connect(hub, ["vendor:gw_1"])
      yield* hub.publish([payment("gw_1", "a1", "first")], 1_000)
      const [first] = yield* take(probe, 1)
      for (let i = 0; i < 50; i++) yield* hub.publish([payment("gw_1", "a1", `p${i}`)], 2_000 + i)
      yield* take(probe, 51)

      const bounded = (limit: number) => {
        const stream = testStream()
        return { ...stream, sink: { ...stream.sink, replayLimitBytes: limit }, messages: stream.messages }
      }
      const small = bounded(2_000)
      yield* hub.connect(topicSet(["vendor:gw_1"]), first?.id, small.sink)
      const [reset] = yield* take(small, 1)
      expect(reset?.event).toBe("reset")
      expect(json(reset)).toMatchObject({ reason: "replay_too_large" })
      expect(small.messages).toHaveLength(1) // nothing of the replay was written

      const roomy = bounded(1_000_000)
      yield* hub.connect(topicSet(["vendor:gw_1"]), first?.id, roomy.sink)
      expect((yield* take(roomy, 50)).map((m) => json(m)["id"])).toEqual(Array.from({ length: 50 }, (_, i) => `p${i}`))
    }))

  it.scoped("history is bounded by count: a cursor that fell out of it is reset", () =>
    Effect.gen(function*() {
      const hub = yield* hubWith({ historySize: 3 })
      const probe = yield* connect(hub, ["agent:a1"])
      yield* hub.publish([1, 2, 3, 4, 5].map((i) => payment("gw_1", "a1", `p${i}`)), 1_000)
      const ids = (yield* take(probe, 5)).map((m) => m.id)

      const evicted = yield* connect(hub, ["agent:a1"], ids[1])
      expect((yield* take(evicted, 1))[0]?.event).toBe("reset")
      const oldest = yield* connect(hub, ["agent:a1"], ids[2])
      expect((yield* take(oldest, 2)).map((m) => json(m)["id"])).toEqual(["p4", "p5"])
    }))

  it.scoped("an id this service did not issue is reset as unknown", () =>
    Effect.gen(function*() {
      const hub = yield* hubWith()
      for (const cursor of ["nonsense", "1-999-00000000"]) {
        const stream = yield* connect(hub, ["ticker"], cursor)
        const [reset] = yield* take(stream, 1)
        expect(reset?.event).toBe("reset")
        expect(json(reset)).toMatchObject({ reason: cursor === "nonsense" ? "cursor_unknown" : "cursor_too_old" })
      }
      yield* hub.publish([payment("gw_1", "a1", "p1")], 5_000)
      const future = yield* connect(hub, ["ticker"], `5000-99-${hub.instanceId}`)
      expect(json((yield* take(future, 1))[0])).toMatchObject({ reason: "cursor_unknown" })
    }))

  it.scoped("a cursor from another process resumes by commit time, at least once", () =>
    Effect.gen(function*() {
      const a = yield* hubWith()
      const b = yield* hubWith()
      const batches = [["p1", 10_000], ["p2", 20_000], ["p3", 30_000]] as const
      for (const [id, at] of batches) {
        yield* TestClock.setTime(at)
        yield* a.publish([payment("gw_1", "a1", id)], at)
        yield* b.publish([payment("gw_1", "a1", id)], at)
      }
      const onA = yield* connect(a, ["vendor:gw_1"])
      yield* a.publish([payment("gw_1", "a1", "p4")], 30_500)
      yield* b.publish([payment("gw_1", "a1", "p4")], 30_500)
      const [p4] = yield* take(onA, 1)
      const p2OnA = `20000-2-${a.instanceId}`

      const fromP2 = yield* connect(b, ["vendor:gw_1"], p2OnA)
      expect((yield* take(fromP2, 3)).map((m) => json(m)["id"])).toEqual(["p2", "p3", "p4"])
      // Events up to a second before the cursor come again (another process may order them differently).
      const fromP4 = yield* connect(b, ["vendor:gw_1"], p4?.id)
      expect((yield* take(fromP4, 2)).map((m) => json(m)["id"])).toEqual(["p3", "p4"])
      // B started at t=0 of the TestClock: a cursor from before that may have missed events.
      const before = yield* connect(b, ["vendor:gw_1"], `500-1-${a.instanceId}`)
      expect(json((yield* take(before, 1))[0])).toMatchObject({ reason: "cursor_too_old" })
    }))

  it.scoped("a gap in the cross-process feed resets open streams and cursors from before it", () =>
    Effect.gen(function*() {
      const hub = yield* hubWith()
      const stream = yield* connect(hub, ["vendor:gw_1"])
      yield* hub.publish([payment("gw_1", "a1", "p1")], 1_000)
      yield* hub.interrupted
      yield* hub.publish([payment("gw_1", "a1", "p2")], 2_000)
      const got = yield* take(stream, 3)
      expect(got.map((m) => m.event)).toEqual(["PaymentAuthorized", "reset", "PaymentAuthorized"])
      expect(json(got[1])).toMatchObject({ reason: "stream_interrupted" })

      const fromBefore = yield* connect(hub, ["vendor:gw_1"], got[0]?.id)
      expect(json((yield* take(fromBefore, 1))[0])).toMatchObject({ reason: "cursor_too_old" })
      // The reset carries the gap's own id: resuming from it is exact.
      const fromGap = yield* connect(hub, ["vendor:gw_1"], got[1]?.id)
      expect((yield* take(fromGap, 1)).map((m) => json(m)["id"])).toEqual(["p2"])
      const fromAfter = yield* connect(hub, ["vendor:gw_1"], got[2]?.id)
      yield* hub.publish([payment("gw_1", "a1", "p3")], 3_000)
      expect((yield* take(fromAfter, 1)).map((m) => json(m)["id"])).toEqual(["p3"])
    }))

  it.scoped("a stream that connects after the gap was marked is not reset by it", () =>
    Effect.gen(function*() {
      const hub = yield* hubWith()
      const before = yield* connect(hub, ["ticker"])
      // Marked and queued for dispatch; the next stream registers before the dispatcher runs.
      yield* hub.interrupted
      const after = yield* connect(hub, ["ticker"])
      yield* hub.publish([payment("gw_1", "a1", "p1")], 1_000)
      expect((yield* take(before, 2)).map((m) => m.event)).toEqual(["reset", "PaymentAuthorized"])
      expect((yield* take(after, 1)).map((m) => m.event)).toEqual(["PaymentAuthorized"])
      yield* settle
      expect(after.messages.map((m) => m.event)).toEqual(["PaymentAuthorized"])
    }))
})

describe("topics and limits", () => {
  it("parses, deduplicates and bounds topic lists", () => {
    const ok = parseTopics(" ticker, vendor:gw_1 ,ticker,agent:a-1", 3)
    expect(Either.getOrThrow(ok).names).toEqual(["ticker", "vendor:gw_1", "agent:a-1"])
    expect(Either.getLeft(parseTopics("", 3))._tag).toBe("Some")
    expect(Either.flip(parseTopics("ticker,vendor:a,vendor:b,vendor:c", 3))).toEqual(
      Either.right("topics: at most 3 topics per stream (got 4)")
    )
    expect(Either.flip(parseTopics("ticker,gateway:gw_1", 3))).toEqual(
      Either.right("topics: \"gateway:gw_1\" is not a topic; use ticker, vendor:<gateway_id> or agent:<agent_id>")
    )
    expect(Either.isLeft(parseTopics("vendor:", 3))).toBe(true)
  })

  it.scoped("at most N streams per user, anonymous streams in their own pool; heartbeats; shutdown ends every stream", () =>
    Effect.gen(function*() {
      const registryScope = yield* Scope.make()
      const registry = yield* StreamRegistry.make({ maxStreamsPerUser: 2, maxPublicStreams: 1, heartbeat: "15 seconds" }).pipe(
        Scope.extend(registryScope)
      )
      const connection = () => {
        const c = { beats: 0, ended: "", heartbeat: () => void (c.beats += 1), end: (reason: string) => void (c.ended = reason) }
        return c
      }
      const scopes = yield* Effect.all([Scope.make(), Scope.make(), Scope.make(), Scope.make()])
      const conns = [connection(), connection(), connection(), connection()]
      const open = (i: number, user: string | undefined) =>
        registry.open(user, user === undefined ? ["ticker"] : ["vendor"], conns[i]!).pipe(Scope.extend(scopes[i]!))
      expect(yield* open(0, "vendor:v1")).toBe(true)
      expect(yield* open(1, "vendor:v1")).toBe(true)
      expect(yield* open(2, "vendor:v1")).toBe(false)
      expect(yield* Effect.scoped(registry.open("vendor:v2", ["vendor"], connection()))).toBe(true)
      expect((yield* Metric.value(Metric.tagged(Metrics.clients, "kind", "vendor"))).value).toBe(2)
      yield* Scope.close(scopes[0]!, Exit.void)
      expect(yield* open(2, "vendor:v1")).toBe(true)
      expect(yield* open(3, undefined)).toBe(true)
      expect(yield* Effect.scoped(registry.open(undefined, ["ticker"], connection()))).toBe(false)
      expect(yield* registry.active).toBe(3)

      yield* TestClock.adjust("31 seconds")
      expect(conns.map((c) => c.beats)).toEqual([0, 2, 2, 2])

      // Shutdown: every open stream gets `end`, and the registry waits for them to close.
      const closing = yield* Effect.fork(Scope.close(registryScope, Exit.void))
      yield* settle
      expect(conns.map((c) => c.ended)).toEqual(["", "server_shutdown", "server_shutdown", "server_shutdown"])
      yield* Effect.forEach(scopes, (scope) => Scope.close(scope, Exit.void))
      yield* Fiber.join(closing)
      expect(yield* registry.active).toBe(0)
    }))
})
