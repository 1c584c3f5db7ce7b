/**
 * The ingest pipeline: admission (bounded), one queue and one batching stream per event type,
 * flushes through the `EventStore` with retries, then commit acknowledgements and publication.
 *
 * Admission is bounded by a count of events admitted and not yet committed (not by the queues'
 * own size), so a request is taken whole or refused whole: a batch is never half-queued.
 * A failed flush is retried with backoff and never dropped; while the database is down the
 * count grows until new requests are refused with 503 + Retry-After.
 */
import { Chunk, Context, Data, Deferred, Effect, Layer, Metric, MetricLabel, Queue, Schedule, Stream } from "effect"
import { HealthChecks } from "../health/HealthChecks.js"
import { type GatewaySeen, EventStore } from "./EventStore.js"
import { IngestSettingsConfig } from "./IngestConfig.js"
import { eventKey, type IngestEvent, type Route, ROUTES, routeOf } from "./IngestEvent.js"
import * as Metrics from "./Metrics.js"
import { RecentKeys } from "./RecentKeys.js"

export type Outcome = "accepted" | "duplicate"

export interface Submitted {
  /** One per submitted event, in order. Provisional ("accepted" = queued) unless `committed`. */
  readonly outcomes: ReadonlyArray<Outcome>
  readonly committed: boolean
}

export class PipelineFull extends Data.TaggedError("PipelineFull")<{ readonly retryAfterSeconds: number }> {}
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
  /** Events admitted and not yet committed. */
  readonly pending: Effect.Effect<number>
}>() {}

interface Ack {
  remaining: number
  readonly outcomes: Array<Outcome>
  readonly done: Deferred.Deferred<void>
}

interface Item {
  readonly event: IngestEvent
  readonly key: string
  readonly index: number
  readonly ack: Ack | undefined
}

const retryPolicy = Schedule.exponential("50 millis", 2).pipe(Schedule.union(Schedule.spaced("5 seconds")))

export const IngestPipelineLive = Layer.scoped(
  IngestPipeline,
  Effect.gen(function*() {
    const settings = yield* IngestSettingsConfig
    const store = yield* EventStore
    const committed = yield* CommittedEvents
    const health = yield* HealthChecks
    const queues = new Map(yield* Effect.forEach(ROUTES, (route) => Effect.map(Queue.unbounded<Item>(), (q) => [route, q] as const)))
    const recent = new RecentKeys(settings.recentKeys)
    const state = { pending: 0, closed: false, lastError: undefined as string | undefined }
    let seen = new Map<string, GatewaySeen>()

    const settle = (item: Item, outcome: Outcome) =>
      item.ack === undefined ? Effect.void : Effect.suspend(() => {
        const ack = item.ack!
        ack.outcomes[item.index] = outcome
        ack.remaining -= 1
        return ack.remaining === 0 ? Deferred.succeed(ack.done, undefined) : Effect.void
      })

    const flush = (route: Route, items: ReadonlyArray<Item>) =>
      Effect.gen(function*() {
        const unique = new Map<string, Item>()
        const repeats: Array<Item> = []
        for (const item of items) {
          if (unique.has(item.key)) repeats.push(item)
          else unique.set(item.key, item)
        }
        const events = [...unique.values()].map((item) => item.event)
        const started = Date.now()
        const result = yield* store.write(route, events).pipe(
          Effect.tapError((error) =>
            Effect.gen(function*() {
              state.lastError = error.message
              yield* Metric.increment(Metric.tagged(Metrics.flushErrors, "route", route))
              yield* Effect.logWarning("flush failed; retrying").pipe(Effect.annotateLogs({ route, events: events.length, error: error.message }))
            })
          ),
          Effect.retry(retryPolicy)
        )
        state.lastError = undefined
        const now = Date.now()
        yield* Metrics.batchSize.pipe(Metric.tagged("route", route), Metric.update(events.length))
        yield* Metrics.flushDuration.pipe(Metric.tagged("route", route), Metric.update((now - started) / 1000))
        const stored: Array<IngestEvent> = []
        const counts = new Map<string, { type: string; outcome: Outcome; n: number }>()
        const count = (type: string, outcome: Outcome) => {
          const key = `${type}\u0000${outcome}`
          const entry = counts.get(key) ?? { type, outcome, n: 0 }
          entry.n += 1
          counts.set(key, entry)
        }
        for (const item of unique.values()) {
          const outcome: Outcome = result.inserted.has(item.key) ? "accepted" : "duplicate"
          if (outcome === "accepted") stored.push(item.event)
          count(item.event.type, outcome)
          yield* Metric.update(Metrics.commitLag, (now - item.event.receivedAt) / 1000)
          yield* settle(item, outcome)
        }
        for (const item of repeats) {
          count(item.event.type, "duplicate")
          yield* settle(item, "duplicate")
        }
        for (const { n, outcome, type } of counts.values()) {
          yield* Metric.incrementBy(
            Metric.taggedWithLabels(Metrics.eventsOutcome, [MetricLabel.make("type", type), MetricLabel.make("outcome", outcome)]),
            n
          )
        }
        state.pending -= items.length
        yield* Metric.set(Metrics.queueDepth, state.pending)
        if (stored.length > 0) yield* committed.publish(stored)
      })

    for (const [route, queue] of queues) {
      yield* Stream.fromQueue(queue, { maxChunkSize: settings.batchSize }).pipe(
        Stream.groupedWithin(settings.batchSize, settings.batchWindow),
        Stream.mapEffect((chunk) => flush(route, Chunk.toReadonlyArray(chunk))),
        Stream.runDrain,
        Effect.forkScoped
      )
    }

    // Last-seen times are coalesced per gateway and written once a second, outside the flushes.
    const touch = Effect.suspend(() => {
      if (seen.size === 0) return Effect.void
      const batch = seen
      seen = new Map()
      return store.touchGateways(batch).pipe(
        Effect.catchAll((error) =>
          Effect.sync(() => {
            for (const [id, value] of batch) if (!seen.has(id)) seen.set(id, value)
          }).pipe(Effect.zipRight(Effect.logWarning("last-seen update failed").pipe(Effect.annotateLogs({ error: error.message }))))
        )
      )
    })
    yield* touch.pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.forkScoped)

    yield* health.register("ingest", Effect.sync(() =>
      state.lastError !== undefined
        ? { status: "degraded" as const, reason: `database writes failing: ${state.lastError}` }
        : state.pending > settings.queueCapacity * 0.8
        ? { status: "degraded" as const, reason: `queue ${state.pending}/${settings.queueCapacity}` }
        : { status: "ok" as const }
    ))

    // Runs before the consumers are interrupted (finalizers run in reverse): stop admitting,
    // then give the queues time to reach the database.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        state.closed = true
        const drained = yield* Effect.sync(() => state.pending === 0).pipe(
          Effect.repeat({ until: (done) => done, schedule: Schedule.spaced("50 millis") }),
          Effect.timeoutOption(settings.drainTimeout),
          Effect.map((option) => option._tag === "Some")
        )
        yield* touch
        yield* Effect.logInfo(drained ? "ingest drained" : "ingest drain timed out").pipe(
          Effect.annotateLogs({ pending: state.pending })
        )
      })
    )

    const submit = (events: ReadonlyArray<IngestEvent>, options: { readonly waitForCommit: boolean }) =>
      Effect.gen(function*() {
        if (state.closed) return yield* Effect.fail(new PipelineClosed())
        const outcomes: Array<Outcome> = events.map(() => "accepted")
        const admitted: Array<number> = []
        const inRequest = new Set<string>()
        events.forEach((event, index) => {
          const key = eventKey(event)
          if (inRequest.has(key) || (!options.waitForCommit && recent.has(key))) outcomes[index] = "duplicate"
          else {
            inRequest.add(key)
            admitted.push(index)
          }
        })
        if (state.pending + admitted.length > settings.queueCapacity) {
          return yield* Effect.fail(new PipelineFull({ retryAfterSeconds: 1 + Math.ceil((4 * state.pending) / settings.queueCapacity) }))
        }
        state.pending += admitted.length
        yield* Metric.set(Metrics.queueDepth, state.pending)
        const ack: Ack | undefined = options.waitForCommit && admitted.length > 0
          ? { remaining: admitted.length, outcomes, done: yield* Deferred.make<void>() }
          : undefined
        for (const index of admitted) {
          const event = events[index]!
          const key = eventKey(event)
          recent.add(key)
          trackSeen(event)
          yield* Queue.offer(queues.get(routeOf(event))!, { event, key, index, ack })
        }
        if (ack) yield* Deferred.await(ack.done)
        return { outcomes, committed: options.waitForCommit }
      })

    const trackSeen = (event: IngestEvent) => {
      const version = event.known?.type === "GatewayTelemetryPacket" ? event.known.data.gateway_version : undefined
      const previous = seen.get(event.gatewayId)
      seen.set(event.gatewayId, {
        lastSeenAt: Math.max(previous?.lastSeenAt ?? 0, event.receivedAt),
        version: version ?? previous?.version
      })
    }

    return { submit, pending: Effect.sync(() => state.pending) }
  })
)
