/**
 * The ingest pipeline: admission → (journal) → per-route writers → settle → publish.
 *
 * Admission (`submit`) decides everything that can fail per event — nesting, encoding, size
 * (Admission.ts) — before the acknowledgement; an event that fails is answered `rejected` with a
 * reason and dead-lettered, and the others go on. It is bounded by a count of events admitted
 * and not yet committed, so a request is taken whole or refused whole. Where an admitted event
 * goes:
 * - `journal` durability: appended (fsynced, group commit) to the disk journal first; kept in
 *   memory too while there is room, otherwise only on disk until the drain fiber (JournalDrain.ts) reads it back.
 * - `memory` durability: queued in memory; spilled to the journal when memory passes the spill
 *   threshold or the database is failing.
 * - `jetstream` durability: published to the JetStream ingest stream (stream/IngestStreamLive.ts)
 *   and answered once stored there; this receiver's writers take events from that stream like
 *   every other receiver's (stream/StreamIntake.ts) and acknowledge them after the commit.
 * Requests that wait for the commit are queued in memory only: their caller waits for the
 * commit and re-sends if we crash first.
 *
 * Flow is one way: the writers (Batcher.ts) report each flush on a results queue; one settler
 * fiber settles outcomes, dead-letters refused events, releases journal records and hands new
 * events to a publisher fiber — so a slow publication never holds up the next flush.
 *
 * On shutdown: stop admitting, drain to PostgreSQL within the deadline, and write what is left
 * only in memory to the journal for the next start.
 */
import { Clock, Deferred, Duration, Effect, Layer, Metric, Option, Queue, Schedule } from "effect"
import { HealthChecks } from "../health/HealthChecks.js"
import { Journal, type JournalFull, type JournalUnavailable } from "../journal/Service.js"
import { type AdmissionLimits, openDoor } from "./Admission.js"
import { type Ack, type Flushed, type Item, startWriters } from "./Batcher.js"
import { defaultWriterSettings } from "./WriterSettings.js"
import { DeadLetters, rejectionOf } from "./DeadLetters.js"
import { EventStore } from "./EventStore.js"
import { startGatewaySeen } from "./GatewaySeen.js"
import { IngestSettingsConfig } from "./IngestConfig.js"
import { startJournalDrain } from "./JournalDrain.js"
import { HOT_SPAN, traceparentLinks } from "../observability/Tracing.js"
import { type IngestEvent, type Route, routeOf, traceparentOf } from "./IngestEvent.js"
import * as Metrics from "./Metrics.js"
import { RecentKeys } from "./RecentKeys.js"
import { forEachInSlices, SLICE_BYTES } from "./Slices.js"
import { routeHealth } from "./RouteHealth.js"
import { completeAcks, recordFlush, settleFlushed, startPublisher } from "./Settle.js"
import { CommittedEvents, IngestPipeline, PipelineClosed, PipelineFull } from "./PipelineService.js"
import { IngestStream } from "./stream/IngestStream.js"
import { startStreamIntake } from "./stream/StreamIntake.js"

/** The gateway is told the class of the failure (ENOSPC, EIO), not the system's text; the log has that. */
const journalRefused = (error: JournalFull | JournalUnavailable) =>
  new PipelineFull({
    retryAfterSeconds: error._tag === "JournalFull" ? 5 : 10,
    reason: error._tag === "JournalFull"
      ? "the spill journal is full"
      : `the spill journal is unavailable${error.code === undefined ? "" : ` (${error.code})`}`
  })

export const IngestPipelineLive = Layer.scoped(
  IngestPipeline,
  Effect.gen(function*() {
    const settings = yield* IngestSettingsConfig
    const store = yield* EventStore
    const journal = yield* Journal
    const committed = yield* CommittedEvents
    const health = yield* HealthChecks
    const deadLetters = yield* DeadLetters
    const ingestStream = settings.durability === "jetstream"
      ? Option.getOrUndefined(yield* Effect.serviceOption(IngestStream))
      : undefined
    if (settings.durability === "jetstream" && ingestStream === undefined) {
      return yield* Effect.dieMessage("INGEST_DURABILITY=jetstream without an ingest stream (IngestStreamLive)")
    }
    // A row must fit in one JetStream message (the server's max_payload).
    const limits: AdmissionLimits = {
      maxDepth: settings.maxNestingDepth,
      maxEventBytes: Math.min(settings.maxEventBytes, ingestStream?.maxRowBytes ?? Number.MAX_SAFE_INTEGER)
    }
    const recent = new RecentKeys(settings.recentKeys)
    /** The journal's last refusal, until a request is taken again: `/health` says so. */
    let journalFailure: { readonly at: number; readonly what: string } | undefined
    let pending = 0
    let closed = false
    /** Items held only in memory (not journaled): written to the journal if shutdown times out. */
    const volatile = new Set<Item>()
    const seen = yield* startGatewaySeen(store, settings.writeTimeout)
    // Dashboards plot their rates from the start, not from the first spill.
    yield* Metric.incrementBy(Metrics.spilled, 0)
    yield* Metric.incrementBy(Metrics.replayed, 0)

    // Writers → settler → publisher, each a fiber of this layer's scope.
    const results = yield* Queue.unbounded<Flushed>()
    const toPublish = yield* Queue.unbounded<ReadonlyArray<IngestEvent>>()
    const writers = yield* startWriters(defaultWriterSettings(settings.batchSize, settings.maxConcurrentFlushes, settings.writeTimeout, settings.maxBatchBytes), store, results)

    const refuse = (item: Item, reason: string, at: number) =>
      deadLetters.record(item.event.gatewayId, [rejectionOf(item.event, item.index, "event", `refused by the database: ${reason}`, item.event)], at)

    /** A flush's bookkeeping, all in place; returns the refusals to dead-letter. */
    const settleInPlace = (flushed: Flushed) => {
      const settled = settleFlushed(flushed)
      for (const item of flushed.items) volatile.delete(item)
      pending -= flushed.items.length
      completeAcks(settled.done)
      recordFlush(flushed, settled, pending)
      if (settled.stored.length > 0) toPublish.unsafeOffer(settled.stored)
      // Refused after its acknowledgement: not stored, so its key must not answer a re-send "duplicate".
      for (const [item] of settled.refused) recent.delete(item.key)
      return settled.refused
    }

    // The journal records are released whatever happens in the bookkeeping: the flush is settled
    // in the database, and a record left behind would be replayed (as duplicates) and hold its segment.
    const settleFlush = (flushed: Flushed) => {
      const refs = flushed.items.flatMap((item) => (item.ref === undefined ? [] : [item.ref]))
      return Effect.sync(() => settleInPlace(flushed)).pipe(
        Effect.flatMap((refused) => Effect.forEach(refused, ([item, reason]) => refuse(item, reason, flushed.finishedAt), { discard: true })),
        Effect.ensuring(refs.length === 0 ? Effect.void : journal.commit(refs))
      )
    }

    // A defect in settling one flush must not stop the next: logged, and the settler goes on.
    yield* Queue.take(results).pipe(
      Effect.flatMap((flushed) =>
        settleFlush(flushed).pipe(
          Effect.catchAllDefect((defect) =>
            Effect.logError("ingest settler defect").pipe(Effect.annotateLogs({ route: flushed.route, defect: String(defect) }))
          )
        )
      ),
      Effect.forever,
      Effect.forkScoped
    )
    yield* startPublisher(toPublish, committed.publish)

    /** `held`: the items are kept elsewhere until committed (the ingest stream): nothing to save on shutdown. */
    const admit = (items: ReadonlyArray<Item>, held = false) =>
      Effect.gen(function*() {
        pending += items.length
        yield* Metric.set(Metrics.queueDepth, pending)
        const byRoute = new Map<Route, Array<Item>>()
        for (const item of items) {
          if (item.ref === undefined && !held) volatile.add(item)
          const route = routeOf(item.event)
          const list = byRoute.get(route)
          if (list === undefined) byRoute.set(route, [item])
          else list.push(item)
        }
        for (const [route, list] of byRoute) yield* writers.offer(route, list)
      })

    const memoryLimit = Math.min(settings.spillThreshold, settings.queueCapacity)
    const roomInMemory = (n: number) => !writers.failing() && pending + n <= memoryLimit

    yield* startJournalDrain({
      journal,
      deadLetters,
      limits,
      batchSize: settings.batchSize,
      room: () => (writers.failing() ? 0 : memoryLimit - pending),
      closed: () => closed,
      admit
    })

    const intake = ingestStream === undefined ? undefined : yield* startStreamIntake({
      stream: ingestStream,
      pullSize: settings.batchSize,
      room: () => memoryLimit - pending,
      closed: () => closed,
      admit: (items) => admit(items, true),
      unreadable: (row, reason) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.zipRight(
            Metric.increment(Metrics.admissionRefused),
            deadLetters.record(undefined, [{ index: 0, reason, field: "event", payload: row }], now)
          ))
    })
    if (ingestStream !== undefined) {
      yield* health.register("ingest_stream", Effect.map(ingestStream.problem, (problem) =>
        problem === undefined ? { status: "ok" as const } : { status: "degraded" as const, reason: problem }))
    }

    yield* health.register("ingest", Effect.gen(function*() {
      const stats = yield* journal.stats
      const now = yield* Clock.currentTimeMillis
      return routeHealth(yield* writers.status, {
        now,
        pending,
        capacity: settings.queueCapacity,
        spilledPending: stats.spilledPending,
        journalFailure
      })
    }))

    // Runs before the consumers are interrupted (finalizers run in reverse order).
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closed = true
        const drained = yield* Effect.sync(() => pending === 0).pipe(
          Effect.repeat({ until: (done) => done, schedule: Schedule.spaced("20 millis") }),
          // Finalizers run uninterruptibly; the wait must be interruptible for the timeout to fire.
          Effect.interruptible,
          Effect.timeoutOption(settings.drainTimeout),
          Effect.map((option) => option._tag === "Some")
        )
        yield* seen.flush
        if (intake !== undefined) yield* intake.release(Duration.seconds(5))
        const leftovers = [...volatile]
        if (!drained && leftovers.length > 0) {
          const saved = yield* journal.append(leftovers.map((item) => item.row), { spilled: true }).pipe(
            Effect.as(true),
            Effect.catchAll((error) => Effect.logError("could not save undrained events").pipe(Effect.annotateLogs({ error: error.message }), Effect.as(false)))
          )
          yield* Effect.logWarning(saved ? "undrained events saved to the journal" : "undrained events lost").pipe(
            Effect.annotateLogs({ events: leftovers.length })
          )
        }
        yield* Effect.logInfo(drained ? "ingest drained" : "ingest drain timed out").pipe(Effect.annotateLogs({ pending }))
      })
    )

    const submit = (events: ReadonlyArray<IngestEvent>, options: { readonly waitForCommit: boolean }) =>
      Effect.gen(function*() {
        if (closed) return yield* Effect.fail(new PipelineClosed())
        const door = openDoor(events.length, { limits, isRecent: (key) => !options.waitForCommit && recent.has(key) })
        // A large request is encoded in slices (by count and by bytes), letting other requests in between.
        yield* forEachInSlices(events, door.take, { weight: SLICE_BYTES })
        if (closed) return yield* Effect.fail(new PipelineClosed())
        const { admitted, outcomes, refused: refusedAtDoor } = door
        if (refusedAtDoor.length > 0) {
          yield* Metric.incrementBy(Metrics.admissionRefused, refusedAtDoor.length)
          yield* deadLetters.record(
            refusedAtDoor[0]!.event.gatewayId,
            refusedAtDoor.map((r) => rejectionOf(r.event, r.index, r.field, r.reason, r.event.data)),
            refusedAtDoor[0]!.event.receivedAt
          )
        }
        // Nothing admitted (every event refused at the door): nothing was waited for.
        if (admitted.length === 0) return { outcomes, committed: false }
        // JetStream keeps them (replicated) until a writer — here or on another receiver — commits.
        // A request waiting for the commit takes the memory path below: if this receiver dies
        // first its caller gets no answer and re-sends, as with the journal.
        if (ingestStream !== undefined && !options.waitForCommit) {
          yield* ingestStream.append(admitted.map((a) => ({ route: routeOf(a.event), gatewayId: a.event.gatewayId, key: a.key, row: a.row }))).pipe(
            Effect.mapError((error) =>
              new PipelineFull({ retryAfterSeconds: 2, reason: `the ingest stream did not store the events (${error.message})` })
            )
          )
          for (const a of admitted) {
            recent.add(a.key)
            seen.track(a.event)
          }
          return { outcomes, committed: false }
        }
        const toMemory = options.waitForCommit || roomInMemory(admitted.length)
        if (toMemory && pending + admitted.length > settings.queueCapacity) {
          return yield* Effect.fail(new PipelineFull({
            retryAfterSeconds: 1 + Math.ceil((4 * pending) / settings.queueCapacity),
            reason: "the ingest queue is full"
          }))
        }
        // A caller waiting for the commit re-sends if we crash first: no journal write needed.
        const journaled = !options.waitForCommit && (settings.durability === "journal" || !toMemory)
        const refs = journaled
          ? yield* journal.append(admitted.map((a) => a.row), { spilled: !toMemory }).pipe(
            Effect.tapError((error) =>
              Effect.map(Clock.currentTimeMillis, (at) => {
                journalFailure = { at, what: error._tag === "JournalFull" ? "full" : error.code ?? "unavailable" }
              })
            ),
            Effect.mapError(journalRefused)
          )
          : undefined
        // A request taken (journaled, or to memory): whatever the journal refused before no longer refuses everyone.
        journalFailure = undefined
        if (!toMemory) yield* Metric.incrementBy(Metrics.spilled, admitted.length)
        for (const a of admitted) {
          recent.add(a.key)
          seen.track(a.event)
        }
        if (!toMemory) return { outcomes, committed: false }
        const ack: Ack | undefined = options.waitForCommit
          ? { remaining: admitted.length, outcomes, done: yield* Deferred.make<void>() }
          : undefined
        yield* admit(admitted.map((a, i) => ({ event: a.event, row: a.row, key: a.key, index: a.index, ack, ref: refs?.[i] })))
        if (ack) yield* Deferred.await(ack.done)
        return { outcomes, committed: options.waitForCommit }
      }).pipe(Effect.withSpan("Ingest.admit", {
        attributes: { events: events.length, waitForCommit: options.waitForCommit },
        links: traceparentLinks(events.map(traceparentOf)),
        ...HOT_SPAN
      }))

    return { submit, pending: Effect.sync(() => pending) }
  })
)
