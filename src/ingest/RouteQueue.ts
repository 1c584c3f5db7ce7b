/**
 * A route's queue of items waiting for its writer. One Effect `Queue` element per offer (a
 * request's events of this route), not per event: taking events one by one built an Effect
 * `Chunk` per event (about 1 KB of garbage each at 10,000 events/s).
 *
 * Items are kept in lanes (one per gateway) and a batch takes an equal share from every lane
 * that has items, so one gateway's backlog — a 10,000-event request, a journal drained after an
 * outage — does not keep another gateway's events out of the next batch. Within a lane the order
 * of offers is kept (an intent's transitions are folded in that order); across lanes a batch
 * has no order to keep. What a batch leaves waits in its lane for the next one.
 */
import { Effect, Queue } from "effect"

export interface RouteQueue<A> {
  readonly offer: (items: ReadonlyArray<A>) => Effect.Effect<void>
  /** Waits until at least one item is queued. */
  readonly awaitItems: Effect.Effect<void>
  /** Up to `max` queued items: an equal share of each lane, each lane's oldest first (none if none are queued). */
  readonly takeBatch: (max: number) => Effect.Effect<ReadonlyArray<A>>
  /** Items offered and not yet in a batch. */
  readonly queued: () => number
}

/** A lane's items not yet in a batch: `items[head…]`. */
interface Lane<A> {
  items: Array<A>
  head: number
}

/** `laneOf`: which lane an item waits in (default: one lane, plain FIFO). */
export const makeRouteQueue = <A>(laneOf: (item: A) => string = () => ""): Effect.Effect<RouteQueue<A>> =>
  Effect.map(Queue.unbounded<ReadonlyArray<A>>(), (queue) => {
    /** Lanes with items; a new lane, and a lane a batch served without emptying, go to the back. */
    const lanes = new Map<string, Lane<A>>()
    let queued = 0
    const keep = (lists: Iterable<ReadonlyArray<A>>) => {
      for (const list of lists) {
        for (const item of list) {
          const name = laneOf(item)
          const lane = lanes.get(name)
          if (lane === undefined) lanes.set(name, { items: [item], head: 0 })
          else lane.items.push(item)
        }
      }
    }
    const takeFrom = (name: string, lane: Lane<A>, count: number, batch: Array<A>) => {
      for (let i = 0; i < count; i++) batch.push(lane.items[lane.head + i]!)
      lane.head += count
      if (lane.head === lane.items.length) lanes.delete(name)
      else if (lane.head * 2 >= lane.items.length) {
        lane.items = lane.items.slice(lane.head)
        lane.head = 0
      }
    }
    return {
      offer: (items) =>
        items.length === 0 ? Effect.void : Effect.suspend(() => {
          queued += items.length
          return Queue.offer(queue, items)
        }),
      awaitItems: Effect.suspend(() => lanes.size > 0 ? Effect.void : Effect.map(Queue.take(queue), (list) => keep([list]))),
      takeBatch: (max) =>
        Effect.map(Queue.takeAll(queue), (lists) => {
          keep(lists)
          const batch: Array<A> = []
          let room = max
          // Each pass gives every lane an equal share of the room left; a lane with fewer items
          // leaves its unused share to the next pass.
          const served = new Set<string>()
          while (room > 0 && lanes.size > 0) {
            const share = Math.max(1, Math.floor(room / lanes.size))
            for (const [name, lane] of lanes) {
              const count = Math.min(share, lane.items.length - lane.head, room)
              takeFrom(name, lane, count, batch)
              served.add(name)
              room -= count
              if (room === 0) break
            }
          }
          // Lanes served and not emptied go to the back: with more lanes than room, the next
          // batch starts with those this one did not reach.
          for (const name of served) {
            const lane = lanes.get(name)
            if (lane === undefined) continue
            lanes.delete(name)
            lanes.set(name, lane)
          }
          queued -= batch.length
          return batch
        }),
      queued: () => queued
    }
  })
