/** A route's queue: offers in order, batches capped, what is taken beyond a batch kept for the next. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { makeRouteQueue } from "../../src/ingest/RouteQueue.js"

describe("RouteQueue", () => {
  it.effect("batches keep offer order, at most the cap, and the rest waits for the next batch", () =>
    Effect.gen(function*() {
      const queue = yield* makeRouteQueue<number>()
      yield* queue.offer([1, 2, 3])
      yield* queue.offer([])
      yield* queue.offer([4, 5])
      expect(queue.queued()).toBe(5)
      yield* queue.awaitItems
      expect(yield* queue.takeBatch(4)).toEqual([1, 2, 3, 4])
      expect(queue.queued()).toBe(1)
      yield* queue.offer([6])
      yield* queue.awaitItems
      expect(yield* queue.takeBatch(4)).toEqual([5, 6])
      expect(queue.queued()).toBe(0)
      expect(yield* queue.takeBatch(4)).toEqual([])
    }))

  it.effect("awaitItems waits for an offer, and returns at once while items are left over", () =>
    Effect.gen(function*() {
      const queue = yield* makeRouteQueue<string>()
      const waiting = yield* Effect.fork(queue.awaitItems)
      yield* Effect.yieldNow()
      expect(waiting.unsafePoll()).toBeNull()
      yield* queue.offer(["a", "b", "c"])
      yield* Fiber.join(waiting)
      expect(yield* queue.takeBatch(1)).toEqual(["a"])
      yield* queue.awaitItems
      expect(yield* queue.takeBatch(10)).toEqual(["b", "c"])
    }))

  it.effect("a long backlog drains in order, batch by batch", () =>
    Effect.gen(function*() {
      const queue = yield* makeRouteQueue<number>()
      for (let i = 0; i < 100; i++) yield* queue.offer(Array.from({ length: 37 }, (_, j) => i * 37 + j))
      const seen: Array<number> = []
      while (queue.queued() > 0) {
        yield* queue.awaitItems
        const batch = yield* queue.takeBatch(50)
        expect(batch.length).toBeLessThanOrEqual(50)
        seen.push(...batch)
      }
      expect(seen).toEqual(Array.from({ length: 3700 }, (_, i) => i))
    }))
})
