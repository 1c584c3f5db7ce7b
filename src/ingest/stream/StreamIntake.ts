/**
 * The writers' side of `INGEST_DURABILITY=jetstream`: this receiver pulls messages from the
 * shared consumer while it has room in memory, hands their events to the route writers (the same
 * path, store and idempotency keys as every other event), and only once every event of a message
 * is settled acknowledges it:
 *
 * - all committed (or duplicates: a redelivery, or another writer got there first) → `ack`;
 * - some refused by the database → those are dead-lettered by the settler, the message is acked;
 *   all refused → `term` (never delivered again; JetStream reports it as an advisory);
 * - unreadable rows → dead-lettered at once; a message with nothing readable → `term`;
 * - the database away → the writer retries and nothing is acknowledged; after the ack wait
 *   JetStream delivers the message again — to another receiver, which can commit it (the
 *   repeat here is then a duplicate), or to this one, which keeps the copy it holds (no second
 *   copy in memory) and acknowledges through the newest delivery.
 *
 * A receiver that dies holds nothing: its deliveries lapse and go to the others.
 */
import { Chunk, Deferred, Duration, Effect, Metric, Queue, Schedule, Stream } from "effect"
import type { Ack, Item } from "../Batcher.js"
import { decodeRow, eventKey, type IngestEvent } from "../IngestEvent.js"
import { type Delivery, type IngestStream, rowsOf } from "./IngestStream.js"
import * as Metrics from "./Metrics.js"

export interface StreamIntakeOptions {
  readonly stream: IngestStream["Type"]
  /** Most messages per pull. */
  readonly pullSize: number
  /** Events this receiver can still take into memory. */
  readonly room: () => number
  readonly closed: () => boolean
  /** Into the route writers (not journaled: the stream keeps them). */
  readonly admit: (items: ReadonlyArray<Item>) => Effect.Effect<void>
  /** Dead-letters a row that cannot be read. */
  readonly unreadable: (row: string, reason: string) => Effect.Effect<void>
}

interface Held {
  /** The newest delivery: acknowledgements go through it. */
  delivery: Delivery
  readonly ack: Ack
}

const readRow = (row: string): IngestEvent | string => {
  try {
    const event = decodeRow(row)
    return typeof event.source === "string" && typeof event.id === "string" && typeof event.type === "string"
      ? event
      : "ingest stream record lacks source, id or type"
  } catch (error) {
    return `ingest stream record cannot be read: ${error instanceof Error ? error.message : String(error)}`
  }
}

export const startStreamIntake = (options: StreamIntakeOptions) =>
  Effect.gen(function*() {
    const { stream } = options
    const held = new Map<number, Held>()
    const settled = yield* Queue.unbounded<number>()
    for (const counter of [Metrics.publishFailures, Metrics.ackFailures, Metrics.redeliveries, Metrics.terminated, Metrics.pullErrors]) {
      yield* Metric.incrementBy(counter, 0)
    }

    const take = (delivery: Delivery) =>
      Effect.gen(function*() {
        if (delivery.deliveryCount > 1) yield* Metric.increment(Metrics.redeliveries)
        const known = held.get(delivery.seq)
        if (known !== undefined) {
          known.delivery = delivery
          return
        }
        const items: Array<Item> = []
        const ack: Ack = {
          remaining: 0,
          outcomes: [],
          done: yield* Deferred.make<void>(),
          onSettled: () => void settled.unsafeOffer(delivery.seq)
        }
        for (const row of rowsOf(delivery.payload)) {
          const event = readRow(row)
          if (typeof event === "string") {
            yield* options.unreadable(row, event)
            continue
          }
          items.push({ event, row: Buffer.from(row), key: eventKey(event), index: items.length, ack, ref: undefined })
        }
        if (items.length === 0) {
          yield* Metric.increment(Metrics.terminated)
          return yield* delivery.term("no readable event; dead-lettered")
        }
        ack.remaining = items.length
        held.set(delivery.seq, { delivery, ack })
        yield* Metric.incrementBy(Metrics.consumed, items.length)
        yield* options.admit(items)
      })

    // Pull while there is room; each pull's deliveries are taken as they arrive.
    yield* Effect.gen(function*() {
      while (!options.closed()) {
        const room = options.room()
        if (room <= 0) {
          yield* Effect.sleep("20 millis")
          continue
        }
        yield* stream.pull(Math.max(1, Math.min(options.pullSize, room))).pipe(
          Stream.runForEach(take),
          Effect.catchAll((error) =>
            Metric.increment(Metrics.pullErrors).pipe(
              Effect.zipRight(Effect.logWarning("pull from the ingest stream failed; retrying").pipe(Effect.annotateLogs({ error: error.message }))),
              Effect.zipRight(Effect.sleep("500 millis"))
            )
          )
        )
      }
    }).pipe(Effect.forkScoped)

    // Acknowledge settled messages, in the order they settled, a few at a time.
    yield* Queue.takeBetween(settled, 1, 256).pipe(
      Effect.flatMap((seqs) =>
        Effect.forEach(Chunk.toReadonlyArray(seqs), (seq) =>
          Effect.suspend(() => {
            const h = held.get(seq)
            if (h === undefined) return Effect.void
            held.delete(seq)
            const refusedAll = h.ack.outcomes.every((o) => typeof o !== "string")
            return refusedAll
              ? Effect.zipRight(Metric.increment(Metrics.terminated), h.delivery.term("refused by the database; dead-lettered"))
              : h.delivery.ack.pipe(
                Effect.catchAll((error) =>
                  Metric.increment(Metrics.ackFailures).pipe(
                    Effect.zipRight(Effect.logWarning("ingest stream ack not confirmed; the message will come again as duplicates").pipe(
                      Effect.annotateLogs({ seq, error: error.message })
                    ))
                  )
                )
              )
          }), { concurrency: 32, discard: true })
      ),
      Effect.forever,
      Effect.forkScoped
    )

    return {
      /** Messages taken and not yet acknowledged. */
      held: (): number => held.size,
      /**
       * On shutdown, after the drain: waits (up to `timeout`) for the acknowledgements, then hands
       * whatever is still held back to the stream at once, for another receiver.
       */
      release: (timeout: Duration.Duration) =>
        Effect.gen(function*() {
          yield* Effect.sync(() => held.size === 0).pipe(
            Effect.repeat({ until: (done) => done, schedule: Schedule.spaced("20 millis") }),
            Effect.interruptible,
            Effect.timeoutOption(timeout)
          )
          const left = [...held.values()]
          held.clear()
          yield* Effect.forEach(left, (h) => h.delivery.nak(Duration.zero), { discard: true })
          if (left.length > 0) yield* Effect.logWarning("ingest stream messages handed back undrained").pipe(Effect.annotateLogs({ messages: left.length }))
        })
    }
  })
