/**
 * What one flush means for each of its items: the store's verdict turned into per-event
 * outcomes, the waiting requests it completes, the events to publish and the outcome counts.
 * `settleFlushed` is pure apart from writing each outcome into its request's `Ack`; the
 * pipeline's settler fiber completes the acks, records the flush's metrics (`recordFlush`), does
 * the effects (dead letters, journal release) and queues the stored events for the publisher
 * fiber (`startPublisher`, here too).
 *
 * The settler runs once per flush, so what it does is plain code where it can be (acks
 * completed, metrics updated, in place): each Effect step costs a flush a little CPU and
 * garbage, and at a few hundred flushes a second that was a measurable share (docs/ingest.md →
 * "What a flush costs").
 */
import { Deferred, Effect, Exit, Metric, MetricLabel, Queue } from "effect"
import type { Ack, Flushed, Item, Outcome } from "./Batcher.js"
import { type IngestEvent, ROUTES, traceparentOf } from "./IngestEvent.js"
import { typeLabel } from "./Labels.js"
import { HOT_SPAN, traceparentLinks } from "../observability/Tracing.js"
import * as Metrics from "./Metrics.js"

export interface Settled {
  /** Events stored by this flush, in order: they are published. */
  readonly stored: ReadonlyArray<IngestEvent>
  /** The first item of each key the database refused, with its reason: dead-lettered. */
  readonly refused: ReadonlyArray<readonly [Item, string]>
  /** Requests whose last item this flush settled. */
  readonly done: ReadonlyArray<Ack>
  /** Events per (type, outcome), for `ingest_events_total`. */
  readonly counts: ReadonlyMap<readonly [type: string, outcome: string], number>
}

const REFUSED: Outcome = { status: "rejected", reason: "the database refused this event (see the dead-letter table)", field: "event" }

/** Records an item's outcome; returns its `Ack` when this was its last item. */
const settle = (item: Item, outcome: Outcome): Ack | undefined => {
  const ack = item.ack
  if (ack === undefined) return undefined
  ack.outcomes[item.index] = outcome
  ack.remaining -= 1
  return ack.remaining === 0 ? ack : undefined
}

export const settleFlushed = ({ items, inserted, refused }: Flushed): Settled => {
  const stored: Array<IngestEvent> = []
  const refusedFirst: Array<readonly [Item, string]> = []
  const done: Array<Ack> = []
  const counts = new Map<string, { readonly label: readonly [string, string]; n: number }>()
  const counted = new Set<string>()
  const refusedKeys = new Map([...refused].map(([item, reason]) => [item.key, reason]))
  for (const item of items) {
    const reason = refusedKeys.get(item.key)
    // The first item of a key carries the store's verdict; repeats in the batch are duplicates.
    const first = !counted.has(item.key)
    counted.add(item.key)
    const outcome: Outcome = reason !== undefined ? REFUSED : first && inserted.has(item.key) ? "accepted" : "duplicate"
    if (outcome === "accepted") stored.push(item.event)
    if (reason !== undefined && first) refusedFirst.push([item, reason])
    const type = typeLabel(item.event.type)
    const name = typeof outcome === "string" ? outcome : "rejected"
    const key = `${type}\u0000${name}`
    const count = counts.get(key)
    if (count === undefined) counts.set(key, { label: [type, name], n: 1 })
    else count.n += 1
    const finished = settle(item, outcome)
    if (finished !== undefined) done.push(finished)
  }
  return { stored, refused: refusedFirst, done, counts: new Map([...counts.values()].map((c) => [c.label, c.n])) }
}

/** Wakes the requests that waited for these items' commit (in place: call it inside `Effect.sync`). */
export const completeAcks = (done: ReadonlyArray<Ack>): void => {
  for (const ack of done) {
    Deferred.unsafeDone(ack.done, Exit.void)
    ack.onSettled?.()
  }
}

type Counter = Metric.Metric.Counter<number>

/** `ingest_events_total{type, outcome}`, one tagged counter per pair, made once (both label sets are bounded). */
const outcomeCounters = new Map<string, Counter>()
const outcomeCounter = (type: string, outcome: string): Counter => {
  const key = `${type}\u0000${outcome}`
  let counter = outcomeCounters.get(key)
  if (counter === undefined) {
    counter = Metric.taggedWithLabels(Metrics.eventsOutcome, [MetricLabel.make("type", type), MetricLabel.make("outcome", outcome)])
    outcomeCounters.set(key, counter)
  }
  return counter
}

/** Adds a flush's outcome counts (in place: call it inside `Effect.sync`). */
export const countOutcomes = (counts: ReadonlyMap<readonly [type: string, outcome: string], number>): void => {
  for (const [[type, outcome], n] of counts) outcomeCounter(type, outcome).unsafeUpdate(n, [])
}

/** `ingest_batch_size` and `ingest_flush_duration_seconds`, tagged once per route. */
const routeMetrics = new Map(ROUTES.map((route) => [route, {
  batchSize: Metric.tagged(Metrics.batchSize, "route", route),
  flushDuration: Metric.tagged(Metrics.flushDuration, "route", route)
}]))

/** A settled flush's metrics, updated in place (call it inside `Effect.sync`); `pending` is the queue depth after it. */
export const recordFlush = (flushed: Flushed, settled: Settled, pending: number): void => {
  const { route, items, finishedAt } = flushed
  for (const item of items) Metrics.commitLag.unsafeUpdate((finishedAt - item.event.receivedAt) / 1000, [])
  if (flushed.statements > 0) {
    const metrics = routeMetrics.get(route)!
    metrics.batchSize.unsafeUpdate(items.length, [])
    metrics.flushDuration.unsafeUpdate((finishedAt - flushed.startedAt) / 1000, [])
  }
  Metrics.queueDepth.unsafeUpdate(pending, [])
  countOutcomes(settled.counts)
}

/**
 * The publisher fiber (in the caller's scope): takes what the settler queued and publishes it,
 * whatever committed meanwhile coalesced into one call, so a slow publication never holds up a
 * flush. A failed publication is logged; the next one goes on.
 */
export const startPublisher = (
  toPublish: Queue.Dequeue<ReadonlyArray<IngestEvent>>,
  publish: (events: ReadonlyArray<IngestEvent>) => Effect.Effect<void>
) =>
  Queue.takeBetween(toPublish, 1, Number.MAX_SAFE_INTEGER).pipe(
    Effect.flatMap((batches) => {
      const events = [...batches].flat()
      return publish(events).pipe(
        Effect.withSpan("Ingest.publish", { attributes: { events: events.length }, links: traceparentLinks(events.map(traceparentOf)), ...HOT_SPAN })
      )
    }),
    Effect.catchAllCause((cause) => Effect.logError("publishing committed events failed").pipe(Effect.annotateLogs({ cause: String(cause) }))),
    Effect.forever,
    Effect.forkScoped
  )
