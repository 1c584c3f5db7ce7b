/**
 * The ingest pipeline: admission, durability and shutdown around the per-route batcher.
 *
 * Admission is bounded by a count of events admitted and not yet committed, so a request is
 * taken whole or refused whole. Where an admitted event goes:
 * - `journal` durability: appended (fsynced, group commit) to the disk journal first; kept in
 *   memory too while there is room, otherwise only on disk until the drain fiber reads it back.
 * - `memory` durability: queued in memory; spilled to the journal when memory passes the spill
 *   threshold or the database is failing.
 * Requests that wait for the commit are queued in memory only: their caller waits for the
 * commit and re-sends if we crash first.
 * 503 + Retry-After only when memory is at capacity for a waiting request, or the journal is
 * full or the disk fails. On shutdown: stop admitting, drain to PostgreSQL within the deadline,
 * and write what is left only in memory to the journal for the next start.
 */
import { Context, Data, Deferred, Effect, Layer, Metric, Schedule } from "effect"
import { HealthChecks } from "../health/HealthChecks.js"
import { Journal, type JournalFull, type JournalUnavailable } from "../journal/Service.js"
import { type Ack, type Item, type Outcome, startBatcher } from "./Batcher.js"
import { DeadLetters } from "./DeadLetters.js"
import { EventStore } from "./EventStore.js"
import { startGatewaySeen } from "./GatewaySeen.js"
import { IngestSettingsConfig } from "./IngestConfig.js"
import { decodeEvent, encodeEvent, eventKey, type IngestEvent, type Route, routeOf } from "./IngestEvent.js"
import * as Metrics from "./Metrics.js"
import { RecentKeys } from "./RecentKeys.js"

export type { Outcome } from "./Batcher.js"

export interface Submitted {
  /** One per submitted event, in order. Provisional ("accepted" = queued) unless `committed`. */
  readonly outcomes: ReadonlyArray<Outcome>
  readonly committed: boolean
}

export class PipelineFull extends Data.TaggedError("PipelineFull")<{
  readonly retryAfterSeconds: number
  readonly reason: string
}> {}
export class PipelineClosed extends Data.TaggedError("PipelineClosed")<{}> {}

/** Receives every batch after it committed (the realtime hub subscribes here). */
export class CommittedEvents extends Context.Tag("Ingest/CommittedEvents")<CommittedEvents, {
  readonly publish: (events: ReadonlyArray<IngestEvent>) => Effect.Effect<void>
}>() {
  static readonly None = Layer.succeed(CommittedEvents, { publish: () => Effect.void })
}

export class IngestPipeline extends Context.Tag("Ingest/Pipeline")<IngestPipeline, {
  readonly submit: (
    events: ReadonlyArray<IngestEvent>,
    options: { readonly waitForCommit: boolean }
  ) => Effect.Effect<Submitted, PipelineFull | PipelineClosed>
  /** Events admitted and not yet committed (in memory, not counting spilled ones on disk). */
  readonly pending: Effect.Effect<number>
}>() {}

const journalRefused = (error: JournalFull | JournalUnavailable) =>
  new PipelineFull({
    retryAfterSeconds: error._tag === "JournalFull" ? 5 : 10,
    reason: error._tag === "JournalFull" ? "the spill journal is full" : `the spill journal is unavailable (${error.message})`
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
    const recent = new RecentKeys(settings.recentKeys)
    const flushState = { lastError: undefined as string | undefined }
    let pending = 0
    let closed = false
    /** Items held only in memory (not journaled): written to the journal if shutdown times out. */
    const volatile = new Set<Item>()
    const seen = yield* startGatewaySeen(store)

    const enqueue = yield* startBatcher(settings, store, flushState, {
      committed: (items, stored) =>
        Effect.gen(function*() {
          pending -= items.length
          for (const item of items) volatile.delete(item)
          const refs = items.flatMap((item) => (item.ref === undefined ? [] : [item.ref]))
          if (refs.length > 0) yield* journal.commit(refs)
          yield* Metric.set(Metrics.queueDepth, pending)
          if (stored.length > 0) yield* committed.publish(stored)
        }),
      poisoned: (item, reason) =>
        deadLetters.record(item.event.gatewayId, [{
          index: item.index,
          id: item.event.id,
          source: item.event.source,
          type: item.event.type,
          reason: `refused by the database: ${reason}`,
          field: "event",
          payload: item.event
        }], Date.now())
    })

    const admit = (items: ReadonlyArray<Item>) =>
      Effect.gen(function*() {
        pending += items.length
        yield* Metric.set(Metrics.queueDepth, pending)
        const byRoute = new Map<Route, Array<Item>>()
        for (const item of items) {
          if (item.ref === undefined) volatile.add(item)
          const route = routeOf(item.event)
          const list = byRoute.get(route)
          if (list === undefined) byRoute.set(route, [item])
          else list.push(item)
        }
        for (const [route, list] of byRoute) yield* enqueue(route, list)
      })

    const memoryLimit = Math.min(settings.spillThreshold, settings.queueCapacity)
    const roomInMemory = (n: number) => flushState.lastError === undefined && pending + n <= memoryLimit

    // Drain: read spilled (and, at start, recovered) events back from disk when there is room.
    const drainOnce = Effect.gen(function*() {
      const room = memoryLimit - pending
      if (closed || flushState.lastError !== undefined || room <= 0) return false
      const records = yield* journal.takeSpilled(Math.min(settings.batchSize, room))
      if (records.length === 0) return false
      yield* admit(records.map(({ payload, ref }) => {
        const event = decodeEvent(payload)
        return { event, key: eventKey(event), index: 0, ack: undefined, ref }
      }))
      yield* Metric.incrementBy(Metrics.replayed, records.length)
      return true
    }).pipe(Effect.catchAll((error) => Effect.logWarning("journal read-back failed").pipe(Effect.annotateLogs({ error: error.message }), Effect.as(false))))
    yield* drainOnce.pipe(
      Effect.repeat({ schedule: Schedule.spaced("50 millis"), while: () => !closed }),
      Effect.forkScoped
    )

    yield* health.register("ingest", Effect.gen(function*() {
      const stats = yield* journal.stats
      const backlog = stats.spilledPending > 0 ? `; ${stats.spilledPending} events waiting in the journal` : ""
      return flushState.lastError !== undefined
        ? { status: "degraded" as const, reason: `database writes failing: ${flushState.lastError}${backlog}` }
        : pending > settings.queueCapacity * 0.8
        ? { status: "degraded" as const, reason: `queue ${pending}/${settings.queueCapacity}${backlog}` }
        : { status: "ok" as const }
    }))

    // Runs before the consumers are interrupted (finalizers run in reverse order).
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closed = true
        const drained = yield* Effect.sync(() => pending === 0).pipe(
          Effect.repeat({ until: (done) => done, schedule: Schedule.spaced("50 millis") }),
          // Finalizers run uninterruptibly; the wait must be interruptible for the timeout to fire.
          Effect.interruptible,
          Effect.timeoutOption(settings.drainTimeout),
          Effect.map((option) => option._tag === "Some")
        )
        yield* seen.flush
        const leftovers = [...volatile]
        if (!drained && leftovers.length > 0) {
          const saved = yield* journal.append(leftovers.map((item) => encodeEvent(item.event)), { spilled: true }).pipe(
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
        const outcomes: Array<Outcome> = events.map(() => "accepted")
        const admitted: Array<{ readonly index: number; readonly event: IngestEvent; readonly key: string }> = []
        const inRequest = new Set<string>()
        events.forEach((event, index) => {
          const key = eventKey(event)
          if (inRequest.has(key) || (!options.waitForCommit && recent.has(key))) outcomes[index] = "duplicate"
          else {
            inRequest.add(key)
            admitted.push({ index, event, key })
          }
        })
        if (admitted.length === 0) return { outcomes, committed: options.waitForCommit }
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
          ? yield* journal.append(admitted.map((a) => encodeEvent(a.event)), { spilled: !toMemory }).pipe(Effect.mapError(journalRefused))
          : undefined
        if (!toMemory) yield* Metric.incrementBy(Metrics.spilled, admitted.length)
        for (const a of admitted) {
          recent.add(a.key)
          seen.track(a.event)
        }
        if (!toMemory) return { outcomes, committed: false }
        const ack: Ack | undefined = options.waitForCommit
          ? { remaining: admitted.length, outcomes, done: yield* Deferred.make<void>() }
          : undefined
        yield* admit(admitted.map((a, i) => ({ event: a.event, key: a.key, index: a.index, ack, ref: refs?.[i] })))
        if (ack) yield* Deferred.await(ack.done)
        return { outcomes, committed: options.waitForCommit }
      })

    return { submit, pending: Effect.sync(() => pending) }
  })
)
