/**
 * The pieces around the hub, in memory: stream tickets (single use, expiry, forgery), topic
 * permissions per role, the NOTIFY payload codec (inline vs keys, the 8000-byte limit), and the
 * SSE stream (retry hint, heartbeats, `event: end`, the send buffer).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema, TestClock } from "effect"
import type { Principal } from "../../src/identity/Jwt.js"
import { authorize, GatewayOwnership, userKey } from "../../src/realtime/Access.js"
import type { Outgoing } from "../../src/realtime/Hub.js"
import { decodeNotification, encodeBatch, isFrom, MAX_PAYLOAD_BYTES, Notification } from "../../src/realtime/Notification.js"
import { openSseStream } from "../../src/realtime/Sse.js"
import { StreamTickets } from "../../src/realtime/Tickets.js"
import { topicSet } from "../../src/realtime/Topics.js"
import { packet, payment } from "./events.js"
import { parseSse } from "./sse.js"

const SECRET = "units-test-secret-units-test-secret-0123"
const vendor: Principal = { role: "vendor", vendorId: "v1", subject: "v1", expiresAt: 4_000_000_000 }
const agent: Principal = { role: "agent", agentId: "a1", subject: "a1", expiresAt: 4_000_000_000 }
const admin: Principal = { role: "admin", subject: "ops", expiresAt: 4_000_000_000 }

describe("stream tickets", () => {
  it.effect("redeem once, within the ticket's lifetime, only with the issuing secret", () =>
    Effect.gen(function*() {
      const tickets = yield* StreamTickets.make(SECRET, "30 seconds")
      const issued = yield* tickets.issue(vendor)
      expect(issued.expiresAtMs).toBe(30_000)
      expect(yield* tickets.redeem(issued.ticket)).toEqual(vendor)
      const again = yield* Effect.flip(tickets.redeem(issued.ticket))
      expect(again.message).toMatch(/already used/)

      const late = yield* tickets.issue(agent)
      yield* TestClock.adjust("31 seconds")
      expect((yield* Effect.flip(tickets.redeem(late.ticket))).message).toMatch(/expired/)

      const other = yield* StreamTickets.make("another-secret-another-secret-another!!", "30 seconds")
      const foreign = yield* other.issue(admin)
      expect((yield* Effect.flip(tickets.redeem(foreign.ticket))).message).toMatch(/invalid stream ticket/)
      const good = yield* tickets.issue(admin)
      const flipped = `${good.ticket.slice(0, 20)}${good.ticket[20] === "A" ? "B" : "A"}${good.ticket.slice(21)}`
      expect((yield* Effect.flip(tickets.redeem(flipped))).message).toMatch(/invalid stream ticket/)
      expect((yield* Effect.flip(tickets.redeem("not a ticket"))).message).toMatch(/invalid stream ticket/)
      expect((yield* tickets.redeem(good.ticket)).role).toBe("admin")
    }))

  it.effect("a ticket never outlives its token", () =>
    Effect.gen(function*() {
      const tickets = yield* StreamTickets.make(SECRET, "30 seconds")
      const issued = yield* tickets.issue({ ...agent, expiresAt: 10 })
      expect(issued.expiresAtMs).toBe(10_000)
    }))
})

describe("topic permissions", () => {
  const check = (principal: Principal | undefined, topics: ReadonlyArray<string>) =>
    authorize(principal, topicSet(topics), "send a token").pipe(
      Effect.provide(GatewayOwnership.InMemory({ v1: ["gw_1", "gw_2"], v2: ["gw_3"] })),
      Effect.match({ onFailure: (e) => `${e._tag}: ${"message" in e ? e.message : ""}`, onSuccess: () => "ok" })
    )

  it.effect("ticker is public; vendors their gateways; agents themselves; admins everything", () =>
    Effect.gen(function*() {
      expect(yield* check(undefined, ["ticker"])).toBe("ok")
      expect(yield* check(undefined, ["ticker", "vendor:gw_1"])).toBe("Unauthorized: topic vendor:gw_1 needs a console token (send a token)")
      expect(yield* check(vendor, ["ticker", "vendor:gw_1", "vendor:gw_2"])).toBe("ok")
      expect(yield* check(vendor, ["vendor:gw_1", "vendor:gw_3"])).toBe("Forbidden: topic vendor:gw_3: not one of your gateways")
      expect(yield* check(vendor, ["agent:a1"])).toMatch(/^Forbidden: agent: topics are for agent and admin tokens/)
      expect(yield* check(agent, ["agent:a1", "ticker"])).toBe("ok")
      expect(yield* check(agent, ["agent:a2"])).toBe("Forbidden: topic agent:a2: an agent token may only subscribe to its own agent topic")
      expect(yield* check(agent, ["vendor:gw_1"])).toMatch(/^Forbidden: vendor: topics are for vendor and admin tokens/)
      expect(yield* check(admin, ["vendor:gw_9", "agent:a9", "ticker"])).toBe("ok")
    }))
})

describe("per-user stream limits", () => {
  it("a user is its subject within its tenant: two vendors' (or agents') tokens with the same sub are two users", () => {
    const ops = (vendorId: string): Principal => ({ role: "vendor", vendorId, subject: "ops", expiresAt: 4_000_000_000 })
    expect(userKey(ops("acme"))).not.toBe(userKey(ops("evil")))
    expect(userKey(ops("acme"))).toBe(userKey(ops("acme")))
    const bot = (agentId: string): Principal => ({ role: "agent", agentId, subject: "bot", expiresAt: 4_000_000_000 })
    expect(userKey(bot("a1"))).not.toBe(userKey(bot("a2")))
    expect(userKey(admin)).not.toBe(userKey({ ...ops("acme"), subject: "ops" }))
    // No delimiter to forge: a vendor id holding the separator is not another vendor's subject.
    expect(userKey({ role: "vendor", vendorId: "a:b", subject: "c", expiresAt: 1 })).not.toBe(
      userKey({ role: "vendor", vendorId: "a", subject: "b:c", expiresAt: 1 })
    )
  })
})

describe("NOTIFY payloads", () => {
  const decode = Schema.decodeUnknownSync(Notification)

  it("a small batch travels inline; a large one as keys, split under the 8000-byte limit", () => {
    const small = encodeBatch("0a1b2c3d", 1234, [payment("gw_1", "a1", "p1"), packet("gw_1", "t1")])
    expect(small.mode).toBe("inline")
    const inline = decode(small.payloads[0])
    expect(inline).toMatchObject({ v: 1, o: "0a1b2c3d", c: 1234 })
    expect("e" in inline && inline.e.map((e) => e[1])).toEqual(["p1", "t1"])

    const events = Array.from({ length: 500 }, (_, i) => payment("gw_1", "a1", `payment-${i}-${"x".repeat(40)}`))
    const large = encodeBatch("0a1b2c3d", 1234, events)
    expect(large.mode).toBe("keys")
    expect(large.payloads.length).toBeGreaterThan(1)
    const keys = large.payloads.flatMap((payload) => {
      expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES)
      const message = decode(payload)
      return "k" in message ? message.k.map((k) => k[1]) : []
    })
    expect(keys).toEqual(events.map((e) => e.id))
  })
})

describe("NOTIFY decoding", () => {
  const full = Schema.decodeUnknownEither(Notification)
  const small = encodeBatch("0a1b2c3d", 1234, [payment("gw_1", "a1", "p1"), packet("gw_1", "t1")])
  const large = encodeBatch("0a1b2c3d", 1234, Array.from({ length: 300 }, (_, i) => payment("gw_1", "a1", `p-${i}`)))

  it("the compiled decoder reads every payload as the schema does, and refuses what it refuses", () => {
    const inputs = [
      ...small.payloads,
      ...large.payloads,
      "not json",
      "{\"v\":2,\"o\":\"x\",\"c\":1,\"e\":[]}",
      "{\"v\":1,\"o\":\"x\",\"c\":1,\"k\":[[\"s\",\"i\"]]}",
      "{\"v\":1,\"o\":\"x\",\"c\":\"1\",\"e\":[]}"
    ]
    for (const input of inputs) {
      const expected = full(input)
      const got = decodeNotification(input)
      expect(Either.isRight(got), input.slice(0, 60)).toBe(Either.isRight(expected))
      if (Either.isRight(got) && Either.isRight(expected)) expect(got.right).toEqual(expected.right)
    }
  })

  it("tells its own payloads by the header, exactly", () => {
    for (const payload of [...small.payloads, ...large.payloads]) {
      expect(isFrom(payload, "0a1b2c3d")).toBe(true)
      expect(isFrom(payload, "0a1b2c3")).toBe(false)
      expect(isFrom(payload, "0a1b2c3e")).toBe(false)
    }
  })
})

describe("SSE stream", () => {
  const readAll = (body: NodeJS.ReadableStream) =>
    Effect.promise(async () => {
      let text = ""
      for await (const chunk of body) text += chunk.toString()
      return text
    })
  const live = (text: string): Outgoing => ({ text, messages: 1, commitMs: 0 })

  it.effect("retry hint first, then messages and heartbeats; `end` sends `event: end` and finishes the body", () =>
    Effect.gen(function*() {
      const stream = openSseStream({ retryMs: 3000, sendBufferBytes: 1024, drop: () => undefined })
      stream.sink.write(live("id: 1\nevent: X\ndata: {}\n\n"), false)
      stream.heartbeat()
      stream.end("token_expired")
      stream.heartbeat()
      const text = yield* readAll(stream.body)
      expect(text.startsWith("retry: 3000\n\n")).toBe(true)
      expect(text.match(/^: heartbeat$/gm)?.length).toBe(1)
      const messages = parseSse(text)
      expect(messages.map((m) => m.event)).toEqual(["X", "end"])
      expect(JSON.parse(messages[1]?.data ?? "")).toMatchObject({ reason: "token_expired" })
    }))

  it("live data beyond the send buffer is refused while the client does not read; replay never is", () => {
    let dropped = 0
    const stream = openSseStream({ retryMs: 1000, sendBufferBytes: 1000, drop: () => void (dropped += 1) })
    const kilobyte = `data: ${"x".repeat(1000)}\n\n`
    expect(stream.sink.write({ text: kilobyte.repeat(5), messages: 5, commitMs: undefined }, true)).toBe(true)
    expect(stream.sink.write(live(kilobyte), false)).toBe(true) // replay does not count: 1 KB live
    expect(stream.sink.write(live(kilobyte), false)).toBe(false) // over 1000 bytes of live data
    stream.body.read() // the socket drained everything
    expect(stream.sink.write(live(kilobyte), false)).toBe(true)
    stream.sink.drop()
    expect(dropped).toBe(1)
    expect(stream.sink.write(live(kilobyte), false)).toBe(true) // ignored once dropped
    expect(stream.stats().buffered).toBe(1008)
  })
})
