/**
 * `INGEST_DURABILITY=jetstream` in process, on a real nats-server (free port) and the in-memory
 * store: a request is answered once JetStream has its events; the writers take them from the
 * stream; poison is dead-lettered and the message settled for good (acked, or terminated when
 * nothing in it could be stored); with the database away nothing is acknowledged, JetStream
 * delivers again, and the events commit once when it is back. Every wait is for a condition.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer, Logger, LogLevel, Metric, Schedule } from "effect"
import { HealthChecks } from "../../src/health/HealthChecks.js"
import { DeadLettersLive } from "../../src/ingest/DeadLetters.js"
import { EventStore, StoreError } from "../../src/ingest/EventStore.js"
import { EventStoreInMemory, InMemoryStore } from "../../src/ingest/EventStoreInMemory.js"
import { eventKey, type IngestEvent } from "../../src/ingest/IngestEvent.js"
import { IngestPipelineLive } from "../../src/ingest/Pipeline.js"
import { CommittedEvents, IngestPipeline } from "../../src/ingest/PipelineService.js"
import * as StreamMetrics from "../../src/ingest/stream/Metrics.js"
import { encodeMessages } from "../../src/ingest/stream/IngestStream.js"
import { IngestStreamLive } from "../../src/ingest/stream/IngestStreamLive.js"
import { JournalInMemory } from "../../src/journal/JournalInMemory.js"
import { NatsBus } from "../../src/realtime/nats/NatsBus.js"
import { wireEvent, wireUnknown } from "../support/ingestEvents.js"
import { startNats } from "../support/nats.js"
import { toIngestEvent } from "./support.js"

/** The database as the test wants it: away, or refusing some ids for good. */
class Db extends Context.Tag("Test/StreamDb")<Db, {
  down: boolean
  readonly refuse: Set<string>
  /** Ids of every write attempt, failed ones too. */
  readonly attempts: Array<string>
}>() {}

const ControlledStore = Layer.effectContext(
  Effect.gen(function*() {
    const inner = yield* EventStore
    const tables = yield* InMemoryStore
    const db: Context.Tag.Service<Db> = { down: false, refuse: new Set(), attempts: [] }
    const store: Context.Tag.Service<EventStore> = {
      ...inner,
      write: (route, events, rows) =>
        Effect.suspend(() => {
          db.attempts.push(...events.map((e) => e.id))
          if (db.down) return Effect.fail(new StoreError({ message: "connect ECONNREFUSED", kind: "unavailable" }))
          if (events.some((e) => db.refuse.has(e.id))) {
            return Effect.fail(new StoreError({ message: "index row size exceeds btree maximum", kind: "permanent", code: "54000" }))
          }
          return inner.write(route, events, rows)
        })
    }
    return Context.make(EventStore, store).pipe(Context.add(InMemoryStore, tables), Context.add(Db, db))
  })
).pipe(Layer.provide(EventStoreInMemory))

const TIME = "2025-06-01T12:00:00Z"
const payment = (id: string): IngestEvent => toIngestEvent(wireEvent("PaymentAuthorized", { id, time: TIME }))

const waitFor = <R>(what: string, condition: Effect.Effect<boolean, never, R>) =>
  condition.pipe(
    Effect.repeat({ until: (done) => done, schedule: Schedule.spaced("20 millis") }),
    Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error(`timed out waiting for: ${what}`) })
  )

const waitUntil = (what: string, condition: () => boolean) => waitFor(what, Effect.sync(condition))

const count = (metric: Metric.Metric.Counter<number>) => Effect.map(Metric.value(metric), (state) => state.count)

const pipelineOn = (url: string, stream: string) =>
  IngestPipelineLive.pipe(
    Layer.provideMerge(Layer.succeed(CommittedEvents, { publish: () => Effect.void })),
    Layer.provideMerge(DeadLettersLive),
    Layer.provideMerge(ControlledStore),
    Layer.provideMerge(HealthChecks.Live),
    Layer.provideMerge(IngestStreamLive),
    Layer.provideMerge(NatsBus.Live),
    Layer.provide(JournalInMemory()),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries({
      INGEST_DURABILITY: "jetstream",
      INGEST_BATCH_SIZE: "50",
      NATS_URL: url,
      NATS_STREAM: `${stream}_LIVE`,
      NATS_INGEST_STREAM: stream,
      NATS_INGEST_ACK_WAIT: "1 second",
      SHUTDOWN_DRAIN_TIMEOUT: "5 seconds"
    }))))),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Error))
  )

/** `body` against a pipeline on its own nats-server and stream `stream`. */
const onStream = <A, E>(stream: string, body: Effect.Effect<A, E, IngestPipeline | InMemoryStore | Db | NatsBus | HealthChecks>) =>
  Effect.gen(function*() {
    const nats = yield* startNats
    return yield* body.pipe(Effect.provide(pipelineOn(nats.url, stream)))
  }).pipe(Effect.scoped)

/** Messages the ingest stream still holds (a work queue: acked or terminated ones are gone). */
const held = (stream: string) =>
  Effect.flatMap(NatsBus, (bus) => Effect.promise(() => bus.jsm.streams.info(stream).then((info) => info.state.messages)))

describe("INGEST_DURABILITY=jetstream (nats-server, in-memory store)", () => {
  it.live("poison is dead-lettered and its message settled for good; the rest of the message commits", () =>
    onStream("T_POISON", Effect.gen(function*() {
      const pipeline = yield* IngestPipeline
      const tables = yield* InMemoryStore
      const db = yield* Db
      db.refuse.add("poison-1")
      db.refuse.add("poison-2")
      const terminatedBefore = yield* count(StreamMetrics.terminated)

      // One message with poison among good events, one with only poison.
      const mixed = yield* pipeline.submit([payment("ok-1"), payment("poison-1"), payment("ok-2")], { waitForCommit: false })
      expect(mixed).toEqual({ outcomes: ["accepted", "accepted", "accepted"], committed: false })
      yield* pipeline.submit([payment("poison-2")], { waitForCommit: false })

      yield* waitUntil("good events committed", () => tables.raw.size === 2)
      yield* waitUntil("both poison events dead-lettered", () => tables.deadLetters.length === 2)
      yield* waitFor("the stream emptied (acked and terminated)", Effect.map(held("T_POISON"), (n) => n === 0))
      expect([...tables.raw.keys()].sort()).toEqual([eventKey(payment("ok-1")), eventKey(payment("ok-2"))].sort())
      expect(tables.deadLetters.map((d) => d.eventId).sort()).toEqual(["poison-1", "poison-2"])
      expect(tables.deadLetters.every((d) => /refused by the database/.test(d.reason))).toBe(true)
      expect((yield* count(StreamMetrics.terminated)) - terminatedBefore).toBe(1)
      // Settled for good: the consumer holds nothing and redelivered nothing.
      const bus = yield* NatsBus
      const info = yield* Effect.promise(() => bus.jsm.consumers.info("T_POISON", "writers"))
      expect(info.num_ack_pending).toBe(0)
      expect(info.num_redelivered).toBe(0)
      const poisonAttempts = db.attempts.filter((id) => id.startsWith("poison")).length
      expect(poisonAttempts).toBeGreaterThan(0)
    })), { timeout: 40_000 })

  it.live("with the database away nothing is acknowledged and JetStream delivers again; once it is back each event commits once", () =>
    onStream("T_DOWN", Effect.gen(function*() {
      const pipeline = yield* IngestPipeline
      const tables = yield* InMemoryStore
      const db = yield* Db
      const bus = yield* NatsBus
      db.down = true
      const redeliveredBefore = yield* count(StreamMetrics.redeliveries)
      const events = Array.from({ length: 20 }, (_, i) => payment(`down-${i}`))
      const submitted = yield* pipeline.submit(events, { waitForCommit: false })
      expect(submitted.committed).toBe(false)
      expect(submitted.outcomes.every((o) => o === "accepted")).toBe(true)

      // The writer retries; the ack wait (1 s) lapses and the message is delivered again …
      yield* waitFor("a redelivery while the database is away", Effect.map(count(StreamMetrics.redeliveries), (n) => n > redeliveredBefore))
      const during = yield* Effect.promise(() => bus.jsm.consumers.info("T_DOWN", "writers"))
      expect(during.num_redelivered).toBeGreaterThan(0)
      expect(yield* held("T_DOWN")).toBe(1)
      expect(tables.raw.size).toBe(0)
      // … into the copy this receiver holds: not a second copy in memory.
      expect(yield* pipeline.pending).toBe(events.length)
      const health = yield* (yield* HealthChecks).snapshot
      expect(health["ingest"]?.status).not.toBe("ok")

      db.down = false
      yield* waitUntil("all committed", () => tables.raw.size === events.length)
      yield* waitFor("the stream emptied (acked)", Effect.map(held("T_DOWN"), (n) => n === 0))
      expect([...tables.raw.values()].map((e) => e.id).sort()).toEqual(events.map((e) => e.id).sort())
      // Written once: the redelivered copy was never queued beside the one held.
      expect(tables.writes.reduce((n, w) => n + w.size, 0)).toBe(events.length)
      expect(tables.deadLetters).toHaveLength(0)
      expect(yield* pipeline.pending).toBe(0)
    })), { timeout: 40_000 })

  it.live("a request of large multi-byte rows is split into messages the server takes (sizes in UTF-8 bytes, not UTF-16 units)", () =>
    onStream("T_CJK", Effect.gen(function*() {
      const pipeline = yield* IngestPipeline
      const tables = yield* InMemoryStore
      const bus = yield* NatsBus
      // 400 rows of ~3.4 KB in UTF-8 (1,100 CJK characters, ~1,200 UTF-16 units): 1.4 MB in all.
      // Counted in units they made one message of 480 K, over the server's 1 MB max payload,
      // and the request was refused (503) at every retry.
      const text = "漢".repeat(1_100)
      const events = Array.from({ length: 400 }, (_, i) =>
        toIngestEvent({ ...wireUnknown({ id: `cjk-${i}`, time: TIME }), data: { note: text } }))
      expect(bus.nc.info?.max_payload).toBe(1024 * 1024)
      const submitted = yield* pipeline.submit(events, { waitForCommit: false })
      expect(submitted.outcomes.every((o) => o === "accepted")).toBe(true)
      yield* waitUntil("all committed", () => tables.raw.size === events.length)
      yield* waitFor("the stream emptied (acked)", Effect.map(held("T_CJK"), (n) => n === 0))
      const info = yield* Effect.promise(() => bus.jsm.streams.info("T_CJK"))
      expect(info.state.last_seq, "split into several messages").toBeGreaterThan(1)
    })), { timeout: 40_000 })

  it("every message fits the byte limit it is given, or is one row alone", () => {
    const admitted = (i: number, chars: number) => ({
      route: "Other" as const,
      gatewayId: "gw-1",
      key: `k-${i}`,
      row: Buffer.from(JSON.stringify({ id: `r-${i}`, note: "€".repeat(chars) }))
    })
    const events = [...Array.from({ length: 300 }, (_, i) => admitted(i, 300)), admitted(300, 20_000), admitted(301, 10)]
    const messages = encodeMessages(events, 64 * 1024)
    for (const m of messages) {
      const rows = m.data.toString().split("\n").length
      expect(rows === 1 || m.data.length <= 64 * 1024, `${rows} rows, ${m.data.length} bytes`).toBe(true)
    }
    expect(messages.flatMap((m) => m.data.toString().split("\n"))).toEqual(events.map((e) => e.row.toString()))
  })
})
