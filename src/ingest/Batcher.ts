/**
 * One writer fiber per route, doing group commit: it takes whatever is queued (at least one
 * event, at most the batch size) and writes it in one statement; what arrives during that write
 * goes in the next one. A quiet route writes each event at once, a busy one in large batches —
 * no window to wait for.
 *
 * The routes share a few write slots (`INGEST_MAX_CONCURRENT_FLUSHES`, WriteSlots.ts, first come
 * first served): a writer with work waits in line for a slot and only then forms its batch, so
 * what arrives while the database is busy goes in fewer, larger statements. On 2 cores shared
 * with PostgreSQL at 10,000 events/s, two slots instead of one per route lowered the receiver's
 * event-loop delay, ack p99 and commit lag (one slot could not keep up); figures in
 * docs/ingest.md. A database with more cores can take more.
 *
 * Writers never stop on a bad event and never die silently:
 * - a failed write is classified (`StoreError.kind`, EventStore.ts): unavailable (the database
 *   cannot take writes now, also a write still running after `writeTimeout`: a hung connection)
 *   → retried with backoff until the database is back, never dead-lettered; transient → retried
 *   a few times, then split like a permanent one, but a single event waits for it to pass
 *   unless it is an internal error (`waitsWhenAlone`); permanent
 *   (or a defect) → the batch is split in halves until the offending events are alone, and those
 *   are handed back as refused (the rest is committed);
 * - a defect anywhere in an iteration is logged at ERROR, counted, and the items it held are
 *   handed back as refused; the writer goes on.
 *
 * Flow is one way: writers report each flush on `results` and keep no reference to what
 * happens next (settling outcomes, journal commits and publication are the pipeline's).
 */
import { Cause, Clock, type Deferred, Duration, Effect, Metric, Queue } from "effect"
import type { RecordRef } from "../journal/Service.js"
import { abandonAfter, type EventStore, StoreError, waitsWhenAlone } from "./EventStore.js"
import { HOT_SPAN, traceparentLinks } from "../observability/Tracing.js"
import { type IngestEvent, type Route, ROUTES, traceparentOf } from "./IngestEvent.js"
import * as Metrics from "./Metrics.js"
import { makeRouteQueue, type RouteQueue } from "./RouteQueue.js"
import { makeWriteSlots, slotHolder } from "./WriteSlots.js"
import { byBytes, type WriterSettings } from "./WriterSettings.js"

export interface Rejected {
  readonly status: "rejected"
  readonly reason: string
  readonly field: string
}

/** Per event: stored now, already stored (or repeated in the request), or refused with a reason. */
export type Outcome = "accepted" | "duplicate" | Rejected

/** Shared by the items of one request that waits for the commit (or of one ingest stream message). */
export interface Ack {
  remaining: number
  readonly outcomes: Array<Outcome>
  readonly done: Deferred.Deferred<void>
  /** Called by the settler once every item is settled (must not block: it runs on the settler). */
  readonly onSettled?: () => void
}

export interface Item {
  readonly event: IngestEvent
  /** The event's row as UTF-8 JSON, encoded once at admission (also its journal record). */
  readonly row: Uint8Array
  readonly key: string
  readonly index: number
  readonly ack: Ack | undefined
  /** Where the event sits in the journal, when it was journaled; released after commit. */
  readonly ref: RecordRef | undefined
}

/** What one flush did with the items it took. */
export interface Flushed {
  readonly route: Route
  readonly items: ReadonlyArray<Item>
  /** Keys stored by this flush; the other items were duplicates or refused. */
  readonly inserted: ReadonlySet<string>
  /** Items the database refused whatever we did (or that hit a defect), with the reason. */
  readonly refused: ReadonlyMap<Item, string>
  /** Statements that committed (more than one when a batch was split). */
  readonly statements: number
  readonly startedAt: number
  readonly finishedAt: number
}

/** What a route's writer is doing, for `/health` and the pipeline's spill decision. */
export interface RouteStatus {
  readonly route: Route
  readonly queued: number
  /** Items in the flush now running, and since when (epoch ms). */
  readonly inFlight: number
  readonly inFlightSince: number | undefined
  /** The last failed attempt, until a write succeeds again. */
  readonly failure: { readonly error: StoreError; readonly since: number } | undefined
}

/** What the statements of one flush wrote: keys stored, items refused with their reason. */
interface Written {
  readonly inserted: Set<string>
  readonly refused: Map<Item, string>
  statements: number
}

const nothingWritten = (): Written => ({ inserted: new Set(), refused: new Map(), statements: 0 })

/** `b` added into `a` (two halves of a bisection, or two byte-sized parts of a batch). */
const addWritten = (a: Written, b: Written): Written => {
  for (const key of b.inserted) a.inserted.add(key)
  for (const [item, reason] of b.refused) a.refused.set(item, reason)
  a.statements += b.statements
  return a
}

const describe = (defect: unknown): string => (defect instanceof Error ? defect.message : String(defect))

interface MutableStatus {
  inFlight: number
  inFlightSince: number | undefined
  failure: { readonly error: StoreError; readonly since: number } | undefined
}

/** Starts one writer per route in the current scope; returns how to offer items and read status. */
export const startWriters = (
  settings: WriterSettings,
  store: EventStore["Type"],
  results: Queue.Enqueue<Flushed>
) =>
  Effect.gen(function*() {
    const queues = new Map<Route, RouteQueue<Item>>()
    /**
     * Write slots shared by the routes: at most this many statements (or intent transactions) run
     * at once, plus one per statement running past `lendSlotAfter` (waiting on a lock).
     */
    const slots = yield* makeWriteSlots(settings.maxConcurrentFlushes)
    const statuses = new Map<Route, MutableStatus>()

    /** A write that outlives the timeout is abandoned at once: the slot does not wait for its clean-up. */
    const timed = abandonAfter(settings.writeTimeout)

    const startWriter = (route: Route, queue: RouteQueue<Item>, status: MutableStatus) => {
      const slot = slotHolder(slots)
      const routeMetric = <T extends Metric.Metric<any, any, any>>(metric: T): T => Metric.tagged(metric, "route", route) as T

      /** One statement, retried while the failure says "later"; `Left` = the data is refused. */
      const writeRetrying = (events: ReadonlyArray<IngestEvent>, rows: ReadonlyArray<Uint8Array>) =>
        Effect.gen(function*() {
          let delay = Duration.toMillis(settings.retryBase)
          let transient = 0
          while (true) {
            // The slot taken to form the batch, or taken again after a back-off.
            yield* slot.take
            const attempt = yield* slot.lendDuring(timed(store.write(route, events, rows)), settings.lendSlotAfter).pipe(
              Effect.catchAllDefect((defect) =>
                Effect.fail(new StoreError({ message: `internal error while writing: ${describe(defect)}`, kind: "permanent" }))
              ),
              Effect.either
            )
            if (attempt._tag === "Right") {
              status.failure = undefined
              return attempt
            }
            const error = attempt.left
            yield* Metric.increment(routeMetric(Metrics.flushErrors))
            // A refusal is settled (bisected, dead-lettered), not a route failure: `failing()` keeps
            // new events out of memory, so a flag left set by a refusal would stall every route.
            if (error.kind === "permanent") {
              status.failure = undefined
              return attempt
            }
            // A transient failure that keeps coming is the batch's to split; an event alone waits (waitsWhenAlone).
            const givesUp = error.kind === "transient" && ++transient >= settings.transientAttempts &&
              !(events.length === 1 && waitsWhenAlone(error))
            if (givesUp) {
              status.failure = undefined
              return { _tag: "Left" as const, left: new StoreError({ ...error, message: error.message, kind: "permanent" }) }
            }
            const now = yield* Clock.currentTimeMillis
            status.failure = { error, since: status.failure?.since ?? now }
            yield* Effect.logWarning("flush failed; retrying").pipe(
              Effect.annotateLogs({ route, events: events.length, kind: error.kind ?? "unavailable", error: error.message })
            )
            // A route backing off from a failure holds no slot while it sleeps.
            yield* slot.give
            yield* Effect.sleep(Duration.millis(delay))
            delay = Math.min(delay * 2, Duration.toMillis(settings.retryMax))
          }
        })

      /** Writes what it can; the events the database refuses are isolated by bisection. */
      const isolate = (items: ReadonlyArray<Item>): Effect.Effect<Written> =>
        Effect.gen(function*() {
          const attempt = yield* writeRetrying(items.map((item) => item.event), items.map((item) => item.row))
          if (attempt._tag === "Right") return { inserted: new Set(attempt.right.inserted), refused: new Map(), statements: 1 }
          if (items.length === 1) {
            yield* Effect.logError("event refused by the database; dead-lettered").pipe(
              Effect.annotateLogs({ route, source: items[0]!.event.source, id: items[0]!.event.id, error: attempt.left.message })
            )
            yield* Metric.increment(routeMetric(Metrics.poisonEvents))
            const reason = attempt.left.code === undefined ? attempt.left.message : `${attempt.left.message} (SQLSTATE ${attempt.left.code})`
            return { inserted: new Set<string>(), refused: new Map([[items[0]!, reason]]), statements: 0 }
          }
          const half = Math.ceil(items.length / 2)
          return addWritten(yield* isolate(items.slice(0, half)), yield* isolate(items.slice(half)))
        })

      const flush = (items: ReadonlyArray<Item>) =>
        Effect.gen(function*() {
          const startedAt = yield* Clock.currentTimeMillis
          status.inFlight = items.length
          status.inFlightSince = startedAt
          // A key twice in one batch would be refused by PostgreSQL (ON CONFLICT cannot touch a row twice).
          const unique = new Map<string, Item>()
          for (const item of items) if (!unique.has(item.key)) unique.set(item.key, item)
          const written = nothingWritten()
          for (const part of byBytes([...unique.values()], settings.maxBatchBytes)) addWritten(written, yield* isolate(part))
          const finishedAt = yield* Clock.currentTimeMillis
          return { route, items, ...written, startedAt, finishedAt } satisfies Flushed
        }).pipe(
          // A defect of our own (not the store's): the items are refused, not lost, and the writer goes on.
          Effect.catchAllCause((cause) =>
            Effect.gen(function*() {
              if (Cause.isInterruptedOnly(cause)) return yield* Effect.failCause(cause)
              yield* Metric.increment(routeMetric(Metrics.writerDefects))
              yield* Effect.logError("ingest writer defect; the batch is dead-lettered and the writer goes on").pipe(
                Effect.annotateLogs({ route, events: items.length, cause: Cause.pretty(cause) })
              )
              const now = yield* Clock.currentTimeMillis
              const reason = `internal error while writing: ${describe(Cause.squash(cause))}`
              return {
                route,
                items,
                inserted: new Set<string>(),
                refused: new Map(items.map((item) => [item, reason])),
                statements: 0,
                startedAt: now,
                finishedAt: now
              } satisfies Flushed
            })
          ),
          Effect.ensuring(Effect.sync(() => {
            status.inFlight = 0
            status.inFlightSince = undefined
          })),
          // The commit span links to each event's own trace (CloudEvent `traceparent`), if any.
          Effect.withSpan("Ingest.flush", {
            attributes: { route, events: items.length },
            links: traceparentLinks(items.map((item) => traceparentOf(item.event))),
            ...HOT_SPAN
          })
        )

      return queue.awaitItems.pipe(
        // While every write slot is busy more events arrive: wait in line for a slot before
        // forming the batch, so they go in this one; the slot is held until the flush ends.
        Effect.zipRight(slot.take),
        Effect.zipRight(queue.takeBatch(settings.batchSize)),
        Effect.flatMap(flush),
        Effect.ensuring(slot.give),
        Effect.flatMap((flushed) => Queue.offer(results, flushed)),
        Effect.forever
      )
    }

    for (const route of ROUTES) {
      // One lane per gateway: a batch takes a share of each, so no gateway's backlog holds up another's events.
      const queue = yield* makeRouteQueue<Item>((item) => item.event.gatewayId)
      const status: MutableStatus = { inFlight: 0, inFlightSince: undefined, failure: undefined }
      queues.set(route, queue)
      statuses.set(route, status)
      // Failure counters exist at 0 from the start: an alert's rate() needs the series before the first failure.
      for (const counter of [Metrics.flushErrors, Metrics.poisonEvents, Metrics.writerDefects]) {
        yield* Metric.incrementBy(Metric.tagged(counter, "route", route), 0)
      }
      yield* Effect.forkScoped(startWriter(route, queue, status))
    }

    return {
      /** Queues items of one route, in order. */
      offer: (route: Route, items: ReadonlyArray<Item>) => queues.get(route)!.offer(items),
      /** True while any writer's last attempt failed (new events then go to the journal). */
      failing: (): boolean => [...statuses.values()].some((s) => s.failure !== undefined),
      status: Effect.sync(() =>
        ROUTES.map((route): RouteStatus => {
          const s = statuses.get(route)!
          return { route, queued: queues.get(route)!.queued(), inFlight: s.inFlight, inFlightSince: s.inFlightSince, failure: s.failure }
        })
      )
    }
  })
