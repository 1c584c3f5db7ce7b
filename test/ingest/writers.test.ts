/**
 * The route writers (group commit) under `TestClock`: time only moves when a test says so, so
 * "flushed at once" means flushed with the clock standing still, and retries wait for
 * `TestClock.adjust`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Queue, TestClock } from "effect"
import { type Flushed, type Item, startWriters } from "../../src/ingest/Batcher.js"
import { defaultWriterSettings } from "../../src/ingest/WriterSettings.js"
import { type EventStore, StoreError, type StoreErrorKind } from "../../src/ingest/EventStore.js"
import { encodedRow, eventKey, type IngestEvent } from "../../src/ingest/IngestEvent.js"
import { wireEvent } from "../support/ingestEvents.js"
import { toIngestEvent } from "./support.js"

const TIME = "2025-06-01T12:00:00Z"

const item = (id: string): Item => {
  const event = toIngestEvent(wireEvent("PaymentAuthorized", { id, time: TIME }))
  return { event, row: Buffer.from(encodedRow(event)), key: eventKey(event), index: 0, ack: undefined, ref: undefined }
}

interface FakeStore {
  readonly store: EventStore["Type"]
  readonly writes: Array<ReadonlyArray<string>>
  /** Writes begun (counted before the gate): how many run at once while it is closed. */
  started: number
  /** The next this-many writes fail with this kind (and SQLSTATE, 40001 unless given). */
  failures: { count: number; kind: StoreErrorKind; code?: string }
  /** The next this-many writes never finish, nor does their clean-up (a connection hung without an error). */
  hangs: number
  readonly gate: Effect.Latch
}

/** Writes succeed unless failures are queued; ids starting with "poison" are refused; "defect" throws. */
const fakeStore = Effect.gen(function*() {
  const gate = yield* Effect.makeLatch(true)
  const fake: FakeStore = {
    writes: [],
    started: 0,
    failures: { count: 0, kind: "unavailable" },
    hangs: 0,
    gate,
    store: {
      write: (_route, events: ReadonlyArray<IngestEvent>) =>
        Effect.sync(() => fake.started++).pipe(Effect.zipRight(gate.await), Effect.zipRight(Effect.suspend(() => {
          fake.writes.push(events.map((e) => e.id))
          if (fake.hangs > 0) {
            fake.hangs -= 1
            return Effect.never.pipe(Effect.ensuring(Effect.never))
          }
          if (fake.failures.count > 0) {
            fake.failures.count -= 1
            return Effect.fail(new StoreError({ message: "injected", kind: fake.failures.kind, code: fake.failures.code ?? "40001" }))
          }
          if (events.some((e) => e.id.startsWith("defect"))) return Effect.die(new Error("boom in the store"))
          if (events.some((e) => e.id.startsWith("poison"))) {
            return Effect.fail(new StoreError({ message: "index row size exceeds btree maximum", kind: "permanent", code: "54000" }))
          }
          return Effect.succeed({ inserted: new Set(events.map(eventKey)) })
        }))),
      deadLetter: () => Effect.void,
      touchGateways: () => Effect.void
    }
  }
  return fake
})

const setup = (batchSize: number, slots?: number, writeTimeout?: Duration.DurationInput) =>
  Effect.gen(function*() {
    const fake = yield* fakeStore
    const results = yield* Queue.unbounded<Flushed>()
    const writers = yield* startWriters(defaultWriterSettings(batchSize, slots, writeTimeout), fake.store, results)
    return { fake, results, writers }
  })

/** `times` steps of 5 s of the test clock, letting the writers run between them. */
const advanceBy5s = (times: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < times; i++) {
      yield* Effect.yieldNow().pipe(Effect.repeatN(10))
      yield* TestClock.adjust(Duration.seconds(5))
    }
  })

const ids = (flushed: Flushed) => flushed.items.map((i) => i.event.id)

const blockedItem = (id: string): Item => {
  const event = toIngestEvent(wireEvent("RequestBlocked", { id, time: TIME }))
  return { event, row: Buffer.from(encodedRow(event)), key: eventKey(event), index: 0, ack: undefined, ref: undefined }
}

describe("route writers (group commit)", () => {
  it.scoped("an idle route writes one event at once, with the clock standing still", () =>
    Effect.gen(function*() {
      const { fake, results, writers } = yield* setup(100)
      yield* writers.offer("PaymentAuthorized", [item("a")])
      const flushed = yield* Queue.take(results)
      expect(ids(flushed)).toEqual(["a"])
      expect(flushed.inserted.size).toBe(1)
      expect(fake.writes).toEqual([["a"]])
    }))

  it.scoped("under load, what queued during a flush goes in the next one, up to the cap", () =>
    Effect.gen(function*() {
      const { fake, results, writers } = yield* setup(4)
      yield* fake.gate.close
      yield* writers.offer("PaymentAuthorized", [item("first")])
      // The writer holds "first" in a flush (blocked at the gate); ten more arrive meanwhile.
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      yield* writers.offer("PaymentAuthorized", Array.from({ length: 10 }, (_, i) => item(`later-${i}`)))
      yield* fake.gate.open
      const sizes: Array<number> = []
      while (sizes.reduce((a, b) => a + b, 0) < 11) sizes.push((yield* Queue.take(results)).items.length)
      expect(sizes).toEqual([1, 4, 4, 2])
    }))

  it.scoped("an unavailable database (e.g. 53300, out of connections) is retried for a minute and more; nothing is refused", () =>
    Effect.gen(function*() {
      const { fake, results, writers } = yield* setup(10)
      // Far more attempts than a transient failure gets: 5 s apart once the backoff is at its cap.
      fake.failures = { count: 20, kind: "unavailable" }
      yield* writers.offer("PaymentAuthorized", [item("u1"), item("u2")])
      const waiting = yield* Effect.fork(Queue.take(results))
      yield* advanceBy5s(25)
      const flushed = yield* Fiber.join(waiting)
      expect(fake.writes.length).toBe(21)
      expect(flushed.refused.size).toBe(0)
      expect(flushed.inserted.size).toBe(2)
      expect(writers.failing()).toBe(false)
    }))

  it.scoped("a batch over the byte cap is written as several statements, each within it", () =>
    Effect.gen(function*() {
      const fake = yield* fakeStore
      const results = yield* Queue.unbounded<Flushed>()
      const rowBytes = item("x").row.byteLength
      // Room for two rows per statement.
      const writers = yield* startWriters({ ...defaultWriterSettings(100), maxBatchBytes: 2 * rowBytes + 10 }, fake.store, results)
      yield* fake.gate.close
      yield* writers.offer("PaymentAuthorized", [item("first")])
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      yield* writers.offer("PaymentAuthorized", ["b1", "b2", "b3", "b4", "b5"].map((id) => item(id)))
      yield* fake.gate.open
      yield* Queue.take(results)
      const flushed = yield* Queue.take(results)
      expect(ids(flushed)).toEqual(["b1", "b2", "b3", "b4", "b5"])
      expect(flushed.inserted.size).toBe(5)
      expect(flushed.statements).toBe(3)
      expect(fake.writes).toEqual([["first"], ["b1", "b2"], ["b3", "b4"], ["b5"]])
    }))

  it.scoped("an unreachable database is retried with backoff until it is back; the status says so meanwhile", () =>
    Effect.gen(function*() {
      const { fake, results, writers } = yield* setup(10)
      fake.failures = { count: 3, kind: "unavailable" }
      yield* writers.offer("PaymentAuthorized", [item("r1"), item("r2")])
      const waiting = yield* Effect.fork(Queue.take(results))
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      expect(fake.writes.length).toBe(1)
      expect(writers.failing()).toBe(true)
      const status = (yield* writers.status).find((s) => s.route === "PaymentAuthorized")
      expect(status?.failure?.error.kind).toBe("unavailable")
      expect(status?.inFlight).toBe(2)
      // 50 ms, 100 ms, 200 ms of backoff.
      yield* TestClock.adjust(Duration.millis(50))
      yield* TestClock.adjust(Duration.millis(100))
      yield* TestClock.adjust(Duration.millis(200))
      const flushed = yield* Fiber.join(waiting)
      expect(flushed.inserted.size).toBe(2)
      expect(flushed.refused.size).toBe(0)
      expect(fake.writes.length).toBe(4)
      expect(writers.failing()).toBe(false)
    }))

  it.scoped("a permanent refusal isolates the bad event by bisection; the rest commits", () =>
    Effect.gen(function*() {
      const { fake, results, writers } = yield* setup(100)
      yield* fake.gate.close
      yield* writers.offer("PaymentAuthorized", [item("x")])
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      const batch = ["ok-0", "ok-1", "ok-2", "poison-3", "ok-4", "ok-5", "ok-6", "ok-7"].map(item)
      yield* writers.offer("PaymentAuthorized", batch)
      yield* fake.gate.open
      yield* Queue.take(results)
      const flushed = yield* Queue.take(results)
      expect(ids(flushed)).toEqual(batch.map((i) => i.event.id))
      expect([...flushed.refused.keys()].map((i) => i.event.id)).toEqual(["poison-3"])
      expect([...flushed.refused.values()][0]).toContain("btree")
      expect(flushed.inserted.size).toBe(7)
      // No sleeping was needed: a permanent refusal is not retried.
      expect(fake.writes.length).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(8)) + 1)
    }))

  it.scoped("a batch whose last write is a refusal leaves the route healthy (refusals are settled, not a route failure)", () =>
    Effect.gen(function*() {
      const { results, writers } = yield* setup(10)
      // Bisection writes ["ok-0"] and then ["poison-1"] last: the last attempt of the flush failed.
      yield* writers.offer("PaymentAuthorized", [item("ok-0"), item("poison-1")])
      const flushed = yield* Queue.take(results)
      expect([...flushed.refused.keys()].map((i) => i.event.id)).toEqual(["poison-1"])
      // New events are kept from memory while a route is failing: a stale flag would stall every route.
      expect(writers.failing()).toBe(false)
      const status = (yield* writers.status).find((s) => s.route === "PaymentAuthorized")
      expect(status?.failure).toBeUndefined()
    }))

  it.scoped("a statement timeout (a lock held elsewhere) recurring on one event: it waits, and is stored once the lock goes", () =>
    Effect.gen(function*() {
      const { fake, results, writers } = yield* setup(10)
      fake.failures = { count: 12, kind: "transient", code: "57014" }
      yield* writers.offer("PaymentAuthorized", [item("locked")])
      const waiting = yield* Effect.fork(Queue.take(results))
      yield* advanceBy5s(15)
      const flushed = yield* Fiber.join(waiting)
      expect(flushed.refused.size).toBe(0)
      expect(flushed.inserted.size).toBe(1)
      expect(fake.writes.length).toBe(13)
    }))

  it.scoped("an internal error (XX000) that keeps recurring on one event is refused after a bounded number of attempts", () =>
    Effect.gen(function*() {
      const { fake, results, writers } = yield* setup(10)
      fake.failures = { count: 1_000, kind: "transient", code: "XX000" }
      yield* writers.offer("PaymentAuthorized", [item("stuck")])
      const waiting = yield* Effect.fork(Queue.take(results))
      yield* advanceBy5s(10)
      const flushed = yield* Fiber.join(waiting)
      expect([...flushed.refused.keys()].map((i) => i.event.id)).toEqual(["stuck"])
      expect(fake.writes.length).toBe(defaultWriterSettings(10).transientAttempts)
      expect(writers.failing()).toBe(false)
      // The next event goes through: the route is not stalled.
      fake.failures.count = 0
      yield* writers.offer("PaymentAuthorized", [item("after")])
      const next = yield* Queue.take(results)
      expect(next.inserted.size).toBe(1)
    }))

  it.scoped("a defect in the store is isolated like a refusal and the writer goes on", () =>
    Effect.gen(function*() {
      const { results, writers } = yield* setup(10)
      yield* writers.offer("PaymentAuthorized", [item("fine-1"), item("defect-2"), item("fine-3")])
      const flushed = yield* Queue.take(results)
      expect([...flushed.refused.keys()].map((i) => i.event.id)).toEqual(["defect-2"])
      expect([...flushed.refused.values()][0]).toContain("boom in the store")
      expect(flushed.inserted.size).toBe(2)
      yield* writers.offer("PaymentAuthorized", [item("next")])
      expect((yield* Queue.take(results)).inserted.size).toBe(1)
    }))

  it.scoped("the routes share the write slots: a route waiting for one forms its batch when it gets it", () =>
    Effect.gen(function*() {
      const { fake, results, writers } = yield* setup(100, 1)
      yield* fake.gate.close
      yield* writers.offer("PaymentAuthorized", [item("p-1")])
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      yield* writers.offer("RequestBlocked", [blockedItem("b-1")])
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      // One slot: the payment holds it, the blocked request waits without writing.
      expect(fake.started).toBe(1)
      yield* writers.offer("RequestBlocked", [blockedItem("b-2"), blockedItem("b-3")])
      yield* fake.gate.open
      const first = yield* Queue.take(results)
      expect(ids(first)).toEqual(["p-1"])
      // What arrived while it waited goes in the same statement.
      const second = yield* Queue.take(results)
      expect(second.route).toBe("RequestBlocked")
      expect(ids(second)).toEqual(["b-1", "b-2", "b-3"])
      expect(fake.writes).toEqual([["p-1"], ["b-1", "b-2", "b-3"]])
    }))

  it.scoped("with two slots two routes write at once, and a third waits", () =>
    Effect.gen(function*() {
      const { fake, results, writers } = yield* setup(100, 2)
      yield* fake.gate.close
      yield* writers.offer("PaymentAuthorized", [item("p-1")])
      yield* writers.offer("RequestBlocked", [blockedItem("b-1")])
      const alert = toIngestEvent(wireEvent("SolvencyAlert", { id: "s-1", time: TIME }))
      yield* writers.offer("SolvencyAlert", [{ event: alert, row: Buffer.from(encodedRow(alert)), key: eventKey(alert), index: 0, ack: undefined, ref: undefined }])
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      expect(fake.started).toBe(2)
      yield* fake.gate.open
      const routes = [yield* Queue.take(results), yield* Queue.take(results), yield* Queue.take(results)].map((f) => f.route)
      expect(routes.sort()).toEqual(["PaymentAuthorized", "RequestBlocked", "SolvencyAlert"])
    }))

  it.scoped.each([6, 1])(
    "routes are independent: a route backing off from an unreachable write holds neither another route nor a slot (%i slots)",
    (slots) =>
      Effect.gen(function*() {
        const { fake, results, writers } = yield* setup(10, slots)
        fake.failures = { count: 1, kind: "unavailable" }
        yield* writers.offer("PaymentAuthorized", [item("retried")])
        yield* Effect.yieldNow().pipe(Effect.repeatN(20))
        yield* writers.offer("RequestBlocked", [blockedItem("meanwhile")])
        // The clock stands still: the payment route sleeps in its backoff, the other route writes.
        const first = yield* Queue.take(results)
        expect(first.route).toBe("RequestBlocked")
        yield* TestClock.adjust(Duration.millis(50))
        const second = yield* Queue.take(results)
        expect(second.route).toBe("PaymentAuthorized")
        expect(second.inserted.size).toBe(1)
      })
  )

  it.scoped("two writes waiting on locks lend their slots after 2 s: a third route commits meanwhile", () =>
    Effect.gen(function*() {
      const { fake, results, writers } = yield* setup(10, 2, "30 seconds")
      fake.hangs = 2
      yield* writers.offer("PaymentAuthorized", [item("locked-1")])
      yield* writers.offer("RequestBlocked", [blockedItem("locked-2")])
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      const alert = toIngestEvent(wireEvent("SolvencyAlert", { id: "free", time: TIME }))
      yield* writers.offer("SolvencyAlert", [{ event: alert, row: Buffer.from(encodedRow(alert)), key: eventKey(alert), index: 0, ack: undefined, ref: undefined }])
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      // Both slots are held by the waiting writes.
      expect(fake.started).toBe(2)
      yield* TestClock.adjust(Duration.seconds(1))
      expect(fake.started).toBe(2)
      yield* TestClock.adjust(Duration.seconds(1))
      const flushed = yield* Queue.take(results)
      expect(flushed.route).toBe("SolvencyAlert")
      expect(flushed.inserted.size).toBe(1)
      expect(fake.started).toBe(3)
    }))

  it.scoped("a write that hangs is abandoned at the write timeout and retried; its slot is free for the other routes", () =>
    Effect.gen(function*() {
      const { fake, results, writers } = yield* setup(10, 1, "30 seconds")
      fake.hangs = 1
      yield* writers.offer("PaymentAuthorized", [item("hung")])
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      yield* writers.offer("RequestBlocked", [blockedItem("behind")])
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      // The one slot is held by the hung write: the other route has not started.
      expect(fake.started).toBe(1)
      yield* TestClock.adjust(Duration.seconds(30))
      const first = yield* Queue.take(results)
      expect(first.route).toBe("RequestBlocked")
      const status = (yield* writers.status).find((s) => s.route === "PaymentAuthorized")
      expect(status?.failure?.error.kind).toBe("unavailable")
      expect(status?.failure?.error.message).toMatch(/did not finish within 30s/)
      yield* TestClock.adjust(Duration.millis(50))
      const second = yield* Queue.take(results)
      expect(second.route).toBe("PaymentAuthorized")
      expect(second.inserted.size).toBe(1)
      expect(writers.failing()).toBe(false)
    }))
})
