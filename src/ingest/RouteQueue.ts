/**
 * A route's queue of items waiting for its writer. One Effect `Queue` element per offer (a
 * request's events of this route), not per event: taking events one by one built an Effect
 * `Chunk` per event (about 1 KB of garbage each at 10,000 events/s). What was taken beyond a
 * batch's size waits here for the next batch, oldest first.
 */
import { Effect, Queue } from "effect"

export interface RouteQueue<A> {
  readonly offer: (items: ReadonlyArray<A>) => Effect.Effect<void>
  /** Waits until at least one item is queued. */
  readonly awaitItems: Effect.Effect<void>
  /** Up to `max` queued items, oldest first (none if none are queued). */
  readonly takeBatch: (max: number) => Effect.Effect<ReadonlyArray<A>>
  /** Items offered and not yet in a batch. */
  readonly queued: () => number
}

export const makeRouteQueue = <A>(): Effect.Effect<RouteQueue<A>> =>
  Effect.map(Queue.unbounded<ReadonlyArray<A>>(), (queue) => {
    /** Taken from the queue and not yet in a batch: `taken[head…]`. */
    let taken: Array<A> = []
    let head = 0
    let queued = 0
    const keep = (lists: Iterable<ReadonlyArray<A>>) => {
      if (head > 0 && head * 2 >= taken.length) {
        taken = taken.slice(head)
        head = 0
      }
      for (const list of lists) for (const item of list) taken.push(item)
    }
    return {
      offer: (items) =>
        items.length === 0 ? Effect.void : Effect.suspend(() => {
          queued += items.length
          return Queue.offer(queue, items)
        }),
      awaitItems: Effect.suspend(() => head < taken.length ? Effect.void : Effect.map(Queue.take(queue), (list) => keep([list]))),
      takeBatch: (max) =>
        Effect.map(Queue.takeAll(queue), (lists) => {
          keep(lists)
          const batch = taken.slice(head, head + max)
          head += batch.length
          if (head === taken.length) {
            taken = []
            head = 0
          }
          queued -= batch.length
          return batch
        }),
      queued: () => queued
    }
  })
