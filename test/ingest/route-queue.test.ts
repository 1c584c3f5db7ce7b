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

describe("RouteQueue lanes", () => {
  const lane = (item: string) => item.split(":")[0]!

  it.effect("one lane's backlog does not keep another lane's item out of the next batch", () =>
    Effect.gen(function*() {
      const queue = yield* makeRouteQueue<string>(lane)
      yield* queue.offer(Array.from({ length: 3000 }, (_, i) => `big:${i}`))
      yield* queue.offer(["small:0"])
      yield* queue.awaitItems
      const first = yield* queue.takeBatch(1000)
      expect(first).toHaveLength(1000)
      expect(first).toContain("small:0")
      // The big lane fills the rest of the batch, oldest first.
      expect(first.filter((item) => lane(item) === "big")).toEqual(Array.from({ length: 999 }, (_, i) => `big:${i}`))
      expect(queue.queued()).toBe(2001)
    }))

  it.effect("every lane gets an equal share; a lane's unused share goes to the others", () =>
    Effect.gen(function*() {
      const queue = yield* makeRouteQueue<string>(lane)
      yield* queue.offer(Array.from({ length: 500 }, (_, i) => `a:${i}`))
      yield* queue.offer(Array.from({ length: 500 }, (_, i) => `b:${i}`))
      yield* queue.offer(["c:0", "c:1"])
      yield* queue.awaitItems
      const batch = yield* queue.takeBatch(100)
      const count = (name: string) => batch.filter((item) => lane(item) === name).length
      expect([count("a"), count("b"), count("c")]).toEqual([49, 49, 2])
    }))

  it.effect("each lane drains in offer order, every item exactly once", () =>
    Effect.gen(function*() {
      const queue = yield* makeRouteQueue<string>(lane)
      const offered = new Map<string, Array<string>>()
      let seed = 7
      const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
      const seen: Array<string> = []
      for (let round = 0; round < 200; round++) {
        const name = `gw${Math.floor(random() * 5)}`
        const list = offered.get(name) ?? []
        const items = Array.from({ length: 1 + Math.floor(random() * 60) }, (_, i) => `${name}:${list.length + i}`)
        list.push(...items)
        offered.set(name, list)
        yield* queue.offer(items)
        if (random() < 0.4) {
          yield* queue.awaitItems
          seen.push(...(yield* queue.takeBatch(1 + Math.floor(random() * 80))))
        }
      }
      while (queue.queued() > 0) {
        yield* queue.awaitItems
        seen.push(...(yield* queue.takeBatch(50)))
      }
      expect(seen).toHaveLength([...offered.values()].reduce((n, l) => n + l.length, 0))
      for (const [name, list] of offered) expect(seen.filter((item) => lane(item) === name)).toEqual(list)
    }))
})

describe("RouteQueue with more lanes than a batch has room for", () => {
  it.effect("every lane is reached in turn, even when the lanes served keep refilling", () =>
    Effect.gen(function*() {
      const queue = yield* makeRouteQueue<string>((item) => item.split(":")[0]!)
      // Each lane has a backlog: one event per batch does not empty it.
      for (let lane = 0; lane < 20; lane++) yield* queue.offer([`l${lane}:a`, `l${lane}:b`, `l${lane}:c`])
      const served = new Map<string, number>()
      for (let batch = 0; batch < 10; batch++) {
        yield* queue.awaitItems
        const taken = yield* queue.takeBatch(10)
        for (const item of taken) {
          const lane = item.split(":")[0]!
          served.set(lane, (served.get(lane) ?? 0) + 1)
          // Each lane served gets a new event at once, as a busy gateway would.
          yield* queue.offer([`${lane}:${batch + 1}`])
        }
      }
      expect(served.size).toBe(20)
      for (const n of served.values()) expect(n).toBe(5)
    }))
})
