/**
 * One queue and one batching stream per route (`groupedWithin(batchSize, batchWindow)`),
 * flushing through the `EventStore`. A failed flush is retried with backoff, never dropped.
 * After a commit: outcomes are settled, journal records released, and new events published.
 */
import { Chunk, Deferred, Effect, Metric, MetricLabel, Queue, Schedule, Stream } from "effect"
import type { RecordRef } from "../journal/Service.js"
import type { EventStore } from "./EventStore.js"
import type { IngestSettings } from "./IngestConfig.js"
import { type IngestEvent, type Route, ROUTES } from "./IngestEvent.js"
import * as Metrics from "./Metrics.js"

/** `rejected`: the database refused the event itself (it went to the dead-letter table). */
export type Outcome = "accepted" | "duplicate" | "rejected"

/** Shared by the items of one request that waits for the commit. */
export interface Ack {
  remaining: number
  readonly outcomes: Array<Outcome>
  readonly done: Deferred.Deferred<void>
}

export interface Item {
  readonly event: IngestEvent
  readonly key: string
  readonly index: number
  readonly ack: Ack | undefined
  /** Where the event sits in the journal, when it was journaled; released after commit. */
  readonly ref: RecordRef | undefined
}

export interface BatcherHooks {
  /** After each commit, with the items it covered and the events that were new. */
  readonly committed: (items: ReadonlyArray<Item>, stored: ReadonlyArray<IngestEvent>) => Effect.Effect<void>
  /** An event the database refuses whatever we do; it is taken out of the stream. */
  readonly poisoned: (item: Item, reason: string) => Effect.Effect<void>
}

export interface FlushState {
  /** The last flush error, until a flush succeeds again. */
  lastError: string | undefined
}

const retryPolicy = Schedule.exponential("50 millis", 2).pipe(Schedule.union(Schedule.spaced("5 seconds")))

/** Records an item's outcome; returns the request's Deferred when this was its last item. */
const settle = (item: Item, outcome: Outcome): Deferred.Deferred<void> | undefined => {
  const ack = item.ack
  if (ack === undefined) return undefined
  ack.outcomes[item.index] = outcome
  ack.remaining -= 1
  return ack.remaining === 0 ? ack.done : undefined
}

/** Wakes the requests whose last item was just settled. */
const release = (done: ReadonlyArray<Deferred.Deferred<void>>) =>
  done.length === 0 ? Effect.void : Effect.forEach(done, (d) => Deferred.succeed(d, undefined), { discard: true })

const countOutcomes = (counts: Map<string, number>) =>
  Effect.forEach(counts, ([label, n]) => {
    const [type = "", outcome = ""] = label.split("\u0000")
    return Metric.incrementBy(
      Metric.taggedWithLabels(Metrics.eventsOutcome, [MetricLabel.make("type", type), MetricLabel.make("outcome", outcome)]),
      n
    )
  }, { discard: true })

/** Starts the per-route consumers in the current scope; returns the function that enqueues. */
export const startBatcher = (settings: IngestSettings, store: EventStore["Type"], state: FlushState, hooks: BatcherHooks) =>
  Effect.gen(function*() {
    /**
     * Writes with retries while the failure is transient. When the database refuses the data
     * itself, the batch is split in halves until the offending event is alone, and that one
     * is taken out (dead-lettered) — one bad event must not stall its type for everyone.
     */
    const flush = (route: Route, items: ReadonlyArray<Item>): Effect.Effect<void> =>
      Effect.gen(function*() {
        const unique = new Map<string, Item>()
        const repeats: Array<Item> = []
        for (const item of items) {
          if (unique.has(item.key)) repeats.push(item)
          else unique.set(item.key, item)
        }
        const events = [...unique.values()].map((item) => item.event)
        const started = Date.now()
        const attempt = yield* store.write(route, events).pipe(
          Effect.tapError((error) =>
            Effect.gen(function*() {
              yield* Metric.increment(Metric.tagged(Metrics.flushErrors, "route", route))
              if (error.permanent) return
              state.lastError = error.message
              yield* Effect.logWarning("flush failed; retrying").pipe(
                Effect.annotateLogs({ route, events: events.length, error: error.message })
              )
            })
          ),
          Effect.retry({ schedule: retryPolicy, while: (error) => error.permanent !== true }),
          Effect.either
        )
        if (attempt._tag === "Left") {
          const reason = attempt.left.message
          if (items.length === 1) {
            yield* Effect.logError("event refused by the database; dead-lettered").pipe(Effect.annotateLogs({ route, reason }))
            const finished = settle(items[0]!, "rejected")
            if (finished !== undefined) yield* Deferred.succeed(finished, undefined)
            yield* hooks.poisoned(items[0]!, reason)
            return yield* hooks.committed(items, [])
          }
          const half = Math.ceil(items.length / 2)
          yield* flush(route, items.slice(0, half))
          return yield* flush(route, items.slice(half))
        }
        const result = attempt.right
        state.lastError = undefined
        const now = Date.now()
        yield* Metrics.batchSize.pipe(Metric.tagged("route", route), Metric.update(events.length))
        yield* Metrics.flushDuration.pipe(Metric.tagged("route", route), Metric.update((now - started) / 1000))
        const stored: Array<IngestEvent> = []
        const counts = new Map<string, number>()
        const count = (type: string, outcome: Outcome) => {
          const label = `${type}\u0000${outcome}`
          counts.set(label, (counts.get(label) ?? 0) + 1)
        }
        const done: Array<Deferred.Deferred<void>> = []
        for (const item of unique.values()) {
          const outcome: Outcome = result.inserted.has(item.key) ? "accepted" : "duplicate"
          if (outcome === "accepted") stored.push(item.event)
          count(item.event.type, outcome)
          Metrics.commitLag.unsafeUpdate((now - item.event.receivedAt) / 1000, [])
          const finished = settle(item, outcome)
          if (finished !== undefined) done.push(finished)
        }
        for (const item of repeats) {
          count(item.event.type, "duplicate")
          const finished = settle(item, "duplicate")
          if (finished !== undefined) done.push(finished)
        }
        yield* release(done)
        yield* countOutcomes(counts)
        yield* hooks.committed(items, stored)
      })

    const queues = new Map<Route, Queue.Queue<Item>>()
    for (const route of ROUTES) {
      const queue = yield* Queue.unbounded<Item>()
      queues.set(route, queue)
      yield* Stream.fromQueue(queue, { maxChunkSize: settings.batchSize }).pipe(
        Stream.groupedWithin(settings.batchSize, settings.batchWindow),
        Stream.mapEffect((chunk) => flush(route, Chunk.toReadonlyArray(chunk))),
        Stream.runDrain,
        Effect.forkScoped
      )
    }
    /** Queues items of one route (in order). */
    return (route: Route, items: ReadonlyArray<Item>) => Queue.offerAll(queues.get(route)!, items)
  })
