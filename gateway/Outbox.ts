/**
 * The gateway's bounded in-memory buffer of events waiting to be sent. When it is full (the
 * receiver has been unavailable long enough for retries to back up), new events are refused and
 * counted, and a warning is logged at most once per `logEvery` so a long outage is visible in
 * the gateway's log without one line per event. `pending` counts events offered and not yet
 * finished (sent, or dropped after retries) so a caller can wait for a drain without a clock.
 */
import { Clock, Duration, Effect, Queue, Ref, Stream, SubscriptionRef } from "effect"

export type DropReason = "buffer_full" | "gave_up" | "refused"

export interface Outbox<A> {
  readonly capacity: number
  /** False when the buffer was full and `item` was dropped (counted and logged). */
  readonly offer: (item: A) => Effect.Effect<boolean>
  /** Batches of at most `maxItems`, emitted as soon as full or `maxDelay` after their first item. */
  readonly batches: (maxItems: number, maxDelay: Duration.DurationInput) => Stream.Stream<ReadonlyArray<A>>
  /** Marks `n` items as finished; `dropped` ones are counted under `reason` and logged. */
  readonly finish: (n: number, dropped?: { readonly reason: DropReason; readonly detail: string }) => Effect.Effect<void>
  /** Waiting in the queue (not yet pulled into a batch). */
  readonly size: Effect.Effect<number>
  /** Offered and not yet finished: queued, in a forming batch, or in flight. At most `capacity`. */
  readonly pending: Effect.Effect<number>
  readonly drops: Effect.Effect<Readonly<Record<DropReason, number>>>
  /** Completes when every offered item is finished. */
  readonly drained: Effect.Effect<void>
}

export const makeOutbox = <A>(options: {
  readonly capacity: number
  readonly logEvery?: Duration.DurationInput
}) =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<A>()
    const pending = yield* SubscriptionRef.make(0)
    const drops = yield* Ref.make<Record<DropReason, number>>({ buffer_full: 0, gave_up: 0, refused: 0 })
    const logEveryMs = Duration.toMillis(Duration.decode(options.logEvery ?? "5 seconds"))
    // Full-buffer drops are logged in summaries: the first at once, then one per `logEvery`.
    const unreported = yield* Ref.make({ count: 0, lastLogAt: Number.NEGATIVE_INFINITY })

    const reportFull = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const state = yield* Ref.get(unreported)
      if (now - state.lastLogAt < logEveryMs) return
      const total = (yield* Ref.get(drops)).buffer_full
      yield* Ref.set(unreported, { count: 0, lastLogAt: now })
      yield* Effect.logWarning(
        `gateway outbox full (${options.capacity} events): dropped ${state.count} event(s) since the last report, ` +
          `${total} in all; the receiver is not keeping up or is unavailable`
      )
    })

    const offer = (item: A) =>
      Effect.gen(function*() {
        // The bound is on everything not yet finished — queued, pulled into a forming batch, or in
        // flight — so the memory held really is at most `capacity` events. Counted before the
        // item can be taken, so `pending` never dips below what is really owed.
        const admitted = yield* SubscriptionRef.modify(pending, (n) => (n < options.capacity ? [true, n + 1] : [false, n]))
        if (admitted) {
          yield* Queue.offer(queue, item)
          return true
        }
        yield* Ref.update(drops, (d) => ({ ...d, buffer_full: d.buffer_full + 1 }))
        yield* Ref.update(unreported, (s) => ({ ...s, count: s.count + 1 }))
        yield* reportFull
        return false
      })

    const finish = (n: number, dropped?: { readonly reason: DropReason; readonly detail: string }) =>
      Effect.gen(function*() {
        if (dropped !== undefined) {
          yield* Ref.update(drops, (d) => ({ ...d, [dropped.reason]: d[dropped.reason] + n }))
          yield* Effect.logWarning(`gateway dropped ${n} event(s) (${dropped.reason}): ${dropped.detail}`)
        }
        yield* SubscriptionRef.update(pending, (p) => p - n)
      })

    const outbox: Outbox<A> = {
      capacity: options.capacity,
      offer,
      batches: (maxItems, maxDelay) => Stream.fromQueue(queue).pipe(Stream.groupedWithin(maxItems, maxDelay), Stream.map((c) => Array.from(c))),
      finish,
      size: Queue.size(queue),
      pending: SubscriptionRef.get(pending),
      drops: Ref.get(drops),
      drained: pending.changes.pipe(Stream.takeUntil((n) => n <= 0), Stream.runDrain)
    }
    return outbox
  })
