/**
 * The pipeline on the in-memory store: routing by type, per-event outcomes, admission bound,
 * retries of failed flushes, publication of what was newly stored, and the drain on shutdown.
 *
 * Live clock with a 10 ms batch window; every wait is for a condition (a commit, a closed gate),
 * never for a duration. A gate in front of the store holds flushes back where a test needs
 * events to stay queued.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  ConfigProvider,
  Context,
  Effect,
  Exit,
  Fiber,
  Layer,
  Logger,
  LogLevel,
  Schedule,
  Scope
} from "effect"
import { HealthChecks } from "../../src/health/HealthChecks.js"
import { DeadLettersLive } from "../../src/ingest/DeadLetters.js"
import { JournalInMemory } from "../../src/journal/JournalInMemory.js"
import { EventStore, StoreError } from "../../src/ingest/EventStore.js"
import { EventStoreInMemory, InMemoryStore } from "../../src/ingest/EventStoreInMemory.js"
import { type IngestEvent, type Route, routeOf } from "../../src/ingest/IngestEvent.js"
import { IngestPipelineLive } from "../../src/ingest/Pipeline.js"
import { CommittedEvents, IngestPipeline } from "../../src/ingest/PipelineService.js"
import { wireBatch, wireEvent, wirePacket } from "../support/ingestEvents.js"
import { toIngestEvent } from "./support.js"

/** What the test sees of the pipeline's side effects. */
class Recorder extends Context.Tag("Test/PipelineRecorder")<Recorder, {
  /** Every write attempt (failed ones too), in order. */
  readonly writes: Array<{ readonly route: Route; readonly events: ReadonlyArray<IngestEvent> }>
  /** Every `CommittedEvents.publish` call. */
  readonly published: Array<ReadonlyArray<IngestEvent>>
  /** Writes wait while this is closed. */
  readonly gate: Effect.Latch
  /** The next this-many write attempts fail (unlike the store's `failNext`, which touches share). */
  failWrites: number
  /** A write holding one of these ids is refused for good (as PostgreSQL refuses an unstorable row). */
  readonly refuseIds: Set<string>
}>() {}

/** The in-memory store, with each attempt recorded and a gate in front of it. */
const RecordingStore = Layer.effectContext(
  Effect.gen(function*() {
    const inner = yield* EventStore
    const tables = yield* InMemoryStore
    const gate = yield* Effect.makeLatch(true)
    const recorder: Context.Tag.Service<Recorder> = { writes: [], published: [], gate, failWrites: 0, refuseIds: new Set() }
    const store: Context.Tag.Service<EventStore> = {
      ...inner,
      write: (route, events) =>
        gate.await.pipe(
          Effect.zipRight(Effect.sync(() => void recorder.writes.push({ route, events: [...events] }))),
          Effect.zipRight(Effect.suspend(() => {
            if (events.some((event) => recorder.refuseIds.has(event.id))) {
              return Effect.fail(new StoreError({ message: "index row size exceeds btree maximum", kind: "permanent", code: "54000" }))
            }
            if (recorder.failWrites <= 0) return inner.write(route, events)
            recorder.failWrites -= 1
            return Effect.fail(new StoreError({ message: "injected write failure" }))
          }))
        )
    }
    return Context.make(EventStore, store).pipe(Context.add(InMemoryStore, tables), Context.add(Recorder, recorder))
  })
).pipe(Layer.provide(EventStoreInMemory))

const CapturePublications = Layer.effect(
  CommittedEvents,
  Effect.map(Recorder, (recorder) => ({ publish: (events) => Effect.sync(() => void recorder.published.push(events)) }))
)

const settings = (overrides: Readonly<Record<string, string>>) =>
  ConfigProvider.fromMap(
    new Map(Object.entries({
      INGEST_BATCH_SIZE: "3",
      INGEST_QUEUE_CAPACITY: "100",
      SHUTDOWN_DRAIN_TIMEOUT: "10 seconds",
      ...overrides
    }))
  )

const pipelineLayer = (overrides: Readonly<Record<string, string>> = {}, journal = JournalInMemory()) =>
  IngestPipelineLive.pipe(
    Layer.provideMerge(CapturePublications),
    Layer.provideMerge(DeadLettersLive),
    Layer.provideMerge(RecordingStore),
    Layer.provideMerge(HealthChecks.Live),
    Layer.provide(journal),
    Layer.provide(Layer.setConfigProvider(settings(overrides))),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Error))
  )

type Services = IngestPipeline | InMemoryStore | Recorder | HealthChecks

/** Runs `test` against a fresh pipeline, shut down (drained) afterwards. */
const withPipeline = <A, E>(
  test: Effect.Effect<A, E, Services>,
  overrides: Readonly<Record<string, string>> = {},
  journal = JournalInMemory()
) => test.pipe(Effect.provide(pipelineLayer(overrides, journal)), Effect.timeout("20 seconds"))

const waitUntil = (condition: () => boolean) =>
  Effect.sync(condition).pipe(Effect.repeat({ until: (done) => done, schedule: Schedule.spaced("5 millis") }))

const TIME = "2025-06-01T12:00:00Z"

const payments = (prefix: string, n: number): Array<IngestEvent> =>
  Array.from({ length: n }, (_, i) => toIngestEvent(wireEvent("PaymentAuthorized", { id: `${prefix}-${i}`, time: TIME })))

const ids = (events: ReadonlyArray<IngestEvent>) => events.map((event) => event.id)

describe("ingest pipeline (in-memory store)", () => {
  it.live("routes each type to its own writer; unknown types go to Other", () =>
    withPipeline(Effect.gen(function*() {
      const pipeline = yield* IngestPipeline
      const tables = yield* InMemoryStore
      const recorder = yield* Recorder
      const events = wireBatch("route", TIME).map((wire) => toIngestEvent(wire))
      const submitted = yield* pipeline.submit(events, { waitForCommit: true })
      expect(submitted).toEqual({ outcomes: events.map(() => "accepted"), committed: true })

      for (const write of recorder.writes) {
        for (const event of write.events) expect(routeOf(event), `${event.type} in the ${write.route} writer`).toBe(write.route)
      }
      const routed = new Map(recorder.writes.map((w) => [w.route, ids(w.events)]))
      expect(routed).toEqual(new Map<Route, Array<string>>([
        ["PaymentAuthorized", ["route-1"]],
        ["RequestBlocked", ["route-2"]],
        ["SolvencyAlert", ["route-3"]],
        ["PaymentIntent", ["route-4"]],
        ["GatewayTelemetryPacket", ["route-5"]],
        ["Other", ["route-6"]]
      ]))
      expect(tables.raw.size).toBe(6)
      expect([...tables.typed.keys()].sort()).toEqual(["GatewayTelemetryPacket", "PaymentAuthorized", "RequestBlocked", "SolvencyAlert"])
      expect(tables.intents.size).toBe(1)
      expect(tables.transitions).toHaveLength(1)
    })))

  it.live("batches a type's events up to the batch size", () =>
    withPipeline(Effect.gen(function*() {
      const pipeline = yield* IngestPipeline
      const recorder = yield* Recorder
      const events = payments("batch", 8)
      yield* pipeline.submit(events, { waitForCommit: true })
      const sizes = recorder.writes.map((w) => w.events.length)
      expect(sizes.every((size) => size >= 1 && size <= 3), `batch sizes ${sizes.join(",")}`).toBe(true)
      expect(recorder.writes.flatMap((w) => ids(w.events)).sort()).toEqual(ids(events).sort())
    })))

  it.live("outcomes: accepted, duplicate within a request, duplicate retried later", () =>
    withPipeline(Effect.gen(function*() {
      const pipeline = yield* IngestPipeline
      const tables = yield* InMemoryStore
      const [a, b, c] = payments("outcome", 3) as [IngestEvent, IngestEvent, IngestEvent]

      const first = yield* pipeline.submit([a, b, a], { waitForCommit: false })
      expect(first).toEqual({ outcomes: ["accepted", "accepted", "duplicate"], committed: false })

      // A quick retry is answered from the recently admitted keys, without a trip to the store.
      const retry = yield* pipeline.submit([b, c], { waitForCommit: false })
      expect(retry.outcomes).toEqual(["duplicate", "accepted"])

      yield* waitUntil(() => tables.raw.size === 3)
      expect([...tables.raw.values()].map((e) => e.id).sort()).toEqual(["outcome-0", "outcome-1", "outcome-2"])
      expect(yield* pipeline.pending).toBe(0)
    })))

  it.live("wait-for-commit answers with the store's verdict", () =>
    withPipeline(
      Effect.gen(function*() {
        const pipeline = yield* IngestPipeline
        const tables = yield* InMemoryStore
        const recorder = yield* Recorder
        const [a, b] = payments("commit", 2) as [IngestEvent, IngestEvent]
        expect(yield* pipeline.submit([a], { waitForCommit: true })).toEqual({ outcomes: ["accepted"], committed: true })
        expect(tables.raw.size).toBe(1)

        // Committed answers do not trust the recent keys: the store decides, and says duplicate.
        const writesBefore = recorder.writes.length
        const again = yield* pipeline.submit([a, b, b], { waitForCommit: true })
        expect(again).toEqual({ outcomes: ["duplicate", "accepted", "duplicate"], committed: true })
        expect(recorder.writes.length).toBeGreaterThan(writesBefore)
        expect(tables.raw.size).toBe(2)

        // Long after (the recent keys forgot it), a retry is still a duplicate.
        yield* pipeline.submit(payments("filler", 3), { waitForCommit: true })
        expect(yield* pipeline.submit([a], { waitForCommit: true })).toEqual({ outcomes: ["duplicate"], committed: true })
        expect(tables.raw.size).toBe(5)
      }),
      { INGEST_RECENT_KEYS: "2" }
    ))

  it.live("publishes only newly stored events, once each", () =>
    withPipeline(Effect.gen(function*() {
      const pipeline = yield* IngestPipeline
      const recorder = yield* Recorder
      const [a, b, c] = payments("publish", 3) as [IngestEvent, IngestEvent, IngestEvent]
      yield* pipeline.submit([a, b], { waitForCommit: true })
      yield* pipeline.submit([b, c, c], { waitForCommit: true })
      yield* pipeline.submit([a, b, c], { waitForCommit: true })
      yield* waitUntil(() => recorder.published.flat().length >= 3)
      expect(recorder.published.flatMap(ids).sort()).toEqual(["publish-0", "publish-1", "publish-2"])
      expect(recorder.published.every((batch) => batch.length > 0)).toBe(true)
    })))

  // Memory full and the journal full too (a 1-byte cap): nowhere to put the events.
  it.live("a full pipeline refuses whole requests with PipelineFull and a retry hint", () =>
    withPipeline(
      Effect.gen(function*() {
        const pipeline = yield* IngestPipeline
        const tables = yield* InMemoryStore
        const recorder = yield* Recorder
        const health = yield* HealthChecks
        yield* recorder.gate.close

        const admitted = payments("full", 4)
        expect((yield* pipeline.submit(admitted, { waitForCommit: false })).outcomes).toEqual(admitted.map(() => "accepted"))
        expect(yield* pipeline.pending).toBe(4)

        const refused = yield* pipeline.submit(payments("refused", 2), { waitForCommit: false }).pipe(Effect.flip)
        expect(refused._tag).toBe("PipelineFull")
        if (refused._tag === "PipelineFull") expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1)
        expect(yield* pipeline.pending).toBe(4)

        // One more fits exactly; the health probe reports the queue as degraded.
        yield* pipeline.submit(payments("last", 1), { waitForCommit: false })
        expect(yield* pipeline.pending).toBe(5)
        const snapshot = yield* health.snapshot
        expect(snapshot["ingest"]?.status).toBe("degraded")
        expect(snapshot["ingest"]?.reason).toContain("5/5")

        yield* recorder.gate.open
        yield* waitUntil(() => tables.raw.size === 5)
        yield* Effect.flatMap(pipeline.pending, (n) => (n === 0 ? Effect.void : Effect.fail("pending"))).pipe(
          Effect.retry(Schedule.spaced("5 millis"))
        )
        expect([...tables.raw.values()].some((e) => e.id.startsWith("refused"))).toBe(false)
        expect((yield* health.snapshot)["ingest"]).toEqual({ status: "ok" })
        // A request larger than the whole capacity is refused even when empty.
        const tooBig = yield* pipeline.submit(payments("big", 6), { waitForCommit: true }).pipe(Effect.flip)
        expect(tooBig._tag).toBe("PipelineFull")
      }),
      { INGEST_QUEUE_CAPACITY: "5", INGEST_BATCH_SIZE: "10", INGEST_DURABILITY: "memory" },
      JournalInMemory({ maxBytes: 1 })
    ))

  it.live("memory full: events spill to the journal, are acknowledged, and drain back once there is room", () =>
    withPipeline(
      Effect.gen(function*() {
        const pipeline = yield* IngestPipeline
        const tables = yield* InMemoryStore
        const recorder = yield* Recorder
        yield* recorder.gate.close
        yield* pipeline.submit(payments("mem", 5), { waitForCommit: false })
        const spilled = yield* pipeline.submit(payments("spill", 3), { waitForCommit: false })
        expect(spilled.outcomes).toEqual(["accepted", "accepted", "accepted"])
        expect(yield* pipeline.pending).toBe(5) // the spilled three wait on disk, not in memory
        yield* recorder.gate.open
        yield* waitUntil(() => tables.raw.size === 8)
        expect([...tables.raw.values()].filter((e) => e.id.startsWith("spill")).length).toBe(3)
      }),
      { INGEST_QUEUE_CAPACITY: "5", INGEST_BATCH_SIZE: "10", INGEST_DURABILITY: "memory" }
    ))

  it.live("journal durability: a journal that refuses the write means 503, not a silent memory-only ack", () =>
    withPipeline(
      Effect.gen(function*() {
        const pipeline = yield* IngestPipeline
        const health = yield* HealthChecks
        const refused = yield* pipeline.submit(payments("disk", 2), { waitForCommit: false }).pipe(Effect.flip)
        expect(refused._tag).toBe("PipelineFull")
        // The class of the failure, not the system's text.
        if (refused._tag === "PipelineFull") expect(refused.reason).toBe("the spill journal is unavailable (ENOSPC)")
        // /health says so (it said "ok" while every request got 503: an outside probe).
        expect((yield* health.snapshot)["ingest"]).toMatchObject({ status: "degraded", reason: expect.stringContaining("journal refused a write") })
      }),
      { INGEST_DURABILITY: "journal" },
      JournalInMemory({ failure: () => "ENOSPC" })
    ))

  it.live("a store failing N times: the batch is retried and committed once", () =>
    withPipeline(Effect.gen(function*() {
      const pipeline = yield* IngestPipeline
      const tables = yield* InMemoryStore
      const recorder = yield* Recorder
      const events = payments("retry", 3)
      recorder.failWrites = 3
      const submitted = yield* pipeline.submit(events, { waitForCommit: true })
      expect(submitted).toEqual({ outcomes: ["accepted", "accepted", "accepted"], committed: true })
      expect(recorder.failWrites).toBe(0)
      // Three failed attempts plus the successful ones, each with the same events.
      expect(recorder.writes.length).toBe(tables.writes.length + 3)
      expect(tables.raw.size).toBe(3)
      // Publication runs on its own fiber, after the commit was acknowledged.
      yield* waitUntil(() => recorder.published.flat().length === 3)
      expect(recorder.published.flatMap(ids).sort()).toEqual(ids(events).sort())
    })))

  it.live("journal mode: after an event the database refuses, later events of every route are still committed", () =>
    withPipeline(Effect.gen(function*() {
      const pipeline = yield* IngestPipeline
      const tables = yield* InMemoryStore
      const recorder = yield* Recorder
      const health = yield* HealthChecks
      recorder.refuseIds.add("refused-1")
      // The refused event is the last write of its flush (bisection writes "refused-0" first).
      yield* pipeline.submit(payments("refused", 2), { waitForCommit: false })
      yield* waitUntil(() => tables.raw.size === 1 && recorder.writes.some((w) => w.events.length === 1 && w.events[0]!.id === "refused-1"))
      const later = [...payments("later", 3), toIngestEvent(wirePacket({ id: "later-packet", time: TIME }))]
      yield* pipeline.submit(later, { waitForCommit: false })
      yield* waitUntil(() => tables.raw.size === 5)
      expect((yield* health.snapshot)["ingest"]).toEqual({ status: "ok" })
    }), { INGEST_DURABILITY: "journal" }))

  it.live("an event the database refused is forgotten: sent again (corrected), it is stored, not answered duplicate", () =>
    withPipeline(Effect.gen(function*() {
      const pipeline = yield* IngestPipeline
      const tables = yield* InMemoryStore
      const recorder = yield* Recorder
      recorder.refuseIds.add("fixme-0")
      const first = yield* pipeline.submit(payments("fixme", 1), { waitForCommit: false })
      expect(first.outcomes).toEqual(["accepted"])
      yield* waitUntil(() => recorder.writes.some((w) => w.events[0]?.id === "fixme-0"))
      yield* Effect.sleep("50 millis")
      expect(tables.raw.size).toBe(0)
      // The gateway fixes what the database refused and sends the event again, same id.
      recorder.refuseIds.delete("fixme-0")
      const again = yield* pipeline.submit(payments("fixme", 1), { waitForCommit: false })
      expect(again.outcomes).toEqual(["accepted"])
      yield* waitUntil(() => tables.raw.size === 1)
    })))

  it.live("the health probe reports failing writes until a flush succeeds", () =>
    withPipeline(Effect.gen(function*() {
      const pipeline = yield* IngestPipeline
      const tables = yield* InMemoryStore
      const recorder = yield* Recorder
      const health = yield* HealthChecks
      tables.failNext = 1_000_000
      yield* pipeline.submit(payments("down", 1), { waitForCommit: false })
      yield* waitUntil(() => recorder.writes.length >= 2)
      const degraded = (yield* health.snapshot)["ingest"]
      expect(degraded?.status).toBe("degraded")
      // The route and the class of failure, not the database's text.
      expect(degraded?.reason).toContain("PaymentAuthorized not committing")
      expect(degraded?.reason).not.toContain("injected failure")
      tables.failNext = 0
      yield* waitUntil(() => tables.raw.size === 1)
      expect((yield* health.snapshot)["ingest"]).toEqual({ status: "ok" })
    })))

  it.live("shutdown is bounded by the drain timeout while the store keeps failing", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(pipelineLayer({ SHUTDOWN_DRAIN_TIMEOUT: "200 millis" }), scope)
      const pipeline = Context.get(context, IngestPipeline)
      const recorder = Context.get(context, Recorder)
      recorder.failWrites = Number.MAX_SAFE_INTEGER
      yield* pipeline.submit(payments("stuck", 2), { waitForCommit: false })
      yield* waitUntil(() => recorder.writes.length >= 2)
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      const closedInTime = yield* Fiber.await(closing).pipe(Effect.timeoutOption("3 seconds"))
      // Let the store recover either way, so a hung shutdown does not outlive the test.
      recorder.failWrites = 0
      yield* Fiber.await(closing)
      expect(closedInTime._tag, "shutdown finished within 3 s despite a 200 ms drain timeout").toBe("Some")
    }).pipe(Effect.timeout("20 seconds")))

  it.live("shutdown stops admitting and drains queued events into the store", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(pipelineLayer(), scope)
      const pipeline = Context.get(context, IngestPipeline)
      const tables = Context.get(context, InMemoryStore)
      const recorder = Context.get(context, Recorder)

      yield* recorder.gate.close
      const queued = [...payments("drain", 4), toIngestEvent(wirePacket({ id: "drain-packet", time: TIME }))]
      yield* pipeline.submit(queued, { waitForCommit: false })
      expect(yield* pipeline.pending).toBe(5)
      expect(tables.raw.size).toBe(0)

      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      // The finalizer refuses new work at once (an empty submit probes that without side effects)…
      yield* pipeline.submit([], { waitForCommit: false }).pipe(Effect.repeat(Schedule.spaced("5 millis")), Effect.flip)
      const refused = yield* pipeline.submit(payments("late", 1), { waitForCommit: false }).pipe(Effect.flip)
      expect(refused._tag).toBe("PipelineClosed")
      expect(tables.raw.size).toBe(0)
      // …and waits for the queued events to reach the store before the consumers stop.
      yield* recorder.gate.open
      yield* Fiber.join(closing)

      expect([...tables.raw.values()].map((e) => e.id).sort()).toEqual(ids(queued).sort())
      // The last-seen times are written on the way out too.
      expect(tables.gateways.get("gw-eu-1")).toMatchObject({ version: "1.4.2" })
    }).pipe(Effect.timeout("20 seconds")))
})
