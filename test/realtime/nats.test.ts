/**
 * The NATS bus against a real nats-server (started here on a free port, never 4222): committed
 * events reach the hubs of two "nodes" in one order with the same ids; a cursor from one node
 * resumes on the other (read back from the stream), a cursor older than the stream keeps gets a
 * reset; a ticket is single-use across nodes (KV); the per-user limit holds across nodes (KV CAS).
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import type { Principal } from "../../src/identity/Jwt.js"
import { makeKvStreamSlots, makeKvTicketNonces, openBucket } from "../../src/realtime/nats/KvState.js"
import { StreamRegistry } from "../../src/realtime/Streams.js"
import { StreamTickets } from "../../src/realtime/Tickets.js"
import { topicSet } from "../../src/realtime/Topics.js"
import { startNats } from "../support/nats.js"
import { ids, node, payment, settings, stream, until } from "./natsNodes.js"

describe("NATS bus", () => {
  it.live("two nodes see one order and one set of ids; a cursor from one resumes on the other", () =>
    Effect.gen(function*() {
      const nats = yield* startNats
      const s = settings(nats.url)
      const a = yield* node(s)
      const b = yield* node(s)
      expect(a.bus.streamTag).toBe(b.bus.streamTag)
      const onA = stream()
      const onB = stream()
      yield* a.hub.connect(topicSet(["vendor:gw_1"]), undefined, onA.sink)
      yield* b.hub.connect(topicSet(["vendor:gw_1"]), undefined, onB.sink)

      yield* a.committed.publish([payment("gw_1", "a1", "p1"), payment("gw_2", "a2", "q1"), payment("gw_1", "a1", "p2")])
      yield* b.committed.publish([payment("gw_1", "a1", "p3")])
      yield* until(() => onA.messages.length >= 3 && onB.messages.length >= 3, "live events on both nodes")
      expect(ids(onA.messages)).toEqual(ids(onB.messages))
      expect(onA.messages.map((m) => m.id)).toEqual(onB.messages.map((m) => m.id))
      expect(onA.messages[0]?.id).toMatch(new RegExp(`^\\d+-\\d+-${a.bus.streamTag}$`))

      // The client saw p1 on node A, then reconnects to node B: p2, p3 (not q1: not its topic), no reset.
      const cursor = onA.messages[0]?.id
      const resumed = stream()
      yield* b.hub.connect(topicSet(["vendor:gw_1"]), cursor, resumed.sink)
      yield* until(() => resumed.messages.length >= 2, "replay")
      expect(resumed.messages.map((m) => m.event)).not.toContain("reset")
      expect(ids(resumed.messages)).toEqual(["p2", "p3"])

      // A third node started later has none of it in memory: it reads the stream.
      const c = yield* node(s)
      const late = stream()
      yield* c.hub.connect(topicSet(["vendor:gw_1"]), cursor, late.sink)
      yield* until(() => late.messages.length >= 2, "replay from the stream")
      expect(ids(late.messages)).toEqual(["p2", "p3"])
      yield* a.committed.publish([payment("gw_1", "a1", "p4")])
      yield* until(() => late.messages.length >= 3, "live after replay")
      expect(ids(late.messages)).toEqual(["p2", "p3", "p4"])

      // Older than the stream keeps: a reset.
      yield* Effect.promise(() => a.bus.jsm.streams.purge(s.stream))
      const old = stream()
      yield* c.hub.connect(topicSet(["vendor:gw_1"]), cursor, old.sink)
      expect(old.messages[0]?.event).toBe("reset")
      expect(JSON.parse(old.messages[0]?.data ?? "{}")).toMatchObject({ reason: "cursor_too_old" })
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a ticket redeemed on one node is refused on another; the per-user limit holds across nodes", () =>
    Effect.gen(function*() {
      const nats = yield* startNats
      const s = settings(nats.url)
      const a = yield* node(s)
      const b = yield* node(s)
      const secret = "nats-test-secret-nats-test-secret-0123"
      const bucketA = yield* openBucket(a.bus, "test_tickets", Duration.minutes(1))
      const bucketB = yield* openBucket(b.bus, "test_tickets", Duration.minutes(1))
      const ticketsA = yield* StreamTickets.make(secret, "30 seconds", makeKvTicketNonces(bucketA))
      const ticketsB = yield* StreamTickets.make(secret, "30 seconds", makeKvTicketNonces(bucketB))
      const principal: Principal = { role: "vendor", vendorId: "v1", subject: "v1", expiresAt: 4_000_000_000 }
      const issued = yield* ticketsA.issue(principal)
      expect(yield* ticketsB.redeem(issued.ticket)).toEqual(principal)
      expect((yield* Effect.flip(ticketsA.redeem(issued.ticket))).message).toMatch(/already used/)

      const slotsA = yield* makeKvStreamSlots(yield* openBucket(a.bus, "test_slots", Duration.minutes(1)), 5_000)
      const slotsB = yield* makeKvStreamSlots(yield* openBucket(b.bus, "test_slots", Duration.minutes(1)), 5_000)
      const options = { maxStreamsPerUser: 3, maxPublicStreams: 10, heartbeat: Duration.seconds(15) }
      const registryA = yield* StreamRegistry.make(options, slotsA)
      const registryB = yield* StreamRegistry.make(options, slotsB)
      const conn = { heartbeat: () => undefined, end: () => undefined }
      // Concurrent opens on both nodes: exactly 3 win.
      const scopes = yield* Effect.all(
        Array.from({ length: 8 }, (_, i) =>
          Effect.gen(function*() {
            const scope = yield* Effect.scope
            const ok = yield* (i % 2 === 0 ? registryA : registryB).open("vendor:v1", ["vendor"], conn)
            return { ok, scope }
          })),
        { concurrency: "unbounded" }
      )
      expect(scopes.filter((r) => r.ok).length).toBe(3)
      // One slot freed on B lets one more open on A.
      const freed = yield* slotsB.acquire("agent:x", 1)
      expect(Option.isSome(freed)).toBe(true)
      expect(Option.isNone(yield* slotsA.acquire("agent:x", 1))).toBe(true)
      if (Option.isSome(freed)) yield* freed.value
      expect(Option.isSome(yield* slotsA.acquire("agent:x", 1))).toBe(true)
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
