/** Write slots: first come, first served — a busy writer cannot take a slot back ahead of one waiting. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { makeWriteSlots, slotHolder } from "../../src/ingest/WriteSlots.js"

describe("WriteSlots", () => {
  it.effect("a freed slot goes to the longest waiter, not to the writer that freed it and asks again", () =>
    Effect.gen(function*() {
      const slots = yield* makeWriteSlots(1)
      const order: Array<string> = []
      const take = (name: string) => Effect.tap(slots.acquire, () => Effect.sync(() => order.push(name)))
      yield* take("a")
      const b = yield* Effect.fork(take("b"))
      yield* Effect.yieldNow()
      const c = yield* Effect.fork(take("c"))
      yield* Effect.yieldNow()
      yield* slots.release
      const a2 = yield* Effect.fork(take("a again"))
      yield* Fiber.join(b)
      yield* Effect.yieldNow()
      expect(order).toEqual(["a", "b"])
      yield* slots.release
      yield* Fiber.join(c)
      yield* slots.release
      yield* Fiber.join(a2)
      expect(order).toEqual(["a", "b", "c", "a again"])
    }))

  it.effect("six writers that always have work share two slots evenly", () =>
    Effect.gen(function*() {
      const slots = yield* makeWriteSlots(2)
      const writes = [0, 0, 0, 0, 0, 0]
      const fibers = yield* Effect.forEach(writes, (_, i) => {
        const slot = slotHolder(slots)
        return Effect.fork(Effect.forever(
          slot.take.pipe(
            Effect.zipRight(Effect.sleep(`${3 + (i % 3) * 4} millis`)),
            Effect.tap(() => Effect.sync(() => writes[i]! += 1)),
            Effect.ensuring(slot.give)
          )
        ))
      })
      yield* TestClock.adjust("1 seconds")
      yield* Effect.forEach(fibers, Fiber.interrupt)
      // Served in turn, each gets a sixth of the slot time whatever its own write takes.
      for (const n of writes) expect(n).toBeGreaterThan(30)
    }))

  it.effect("a holder takes at most one slot and gives back only what it holds", () =>
    Effect.gen(function*() {
      const slots = yield* makeWriteSlots(1)
      const first = slotHolder(slots)
      yield* first.take
      yield* first.take
      yield* first.give
      yield* first.give
      // One slot, free again once: a second holder gets it, a third waits.
      const second = slotHolder(slots)
      yield* second.take
      const third = yield* Effect.fork(slotHolder(slots).take)
      yield* Effect.yieldNow()
      expect(third.unsafePoll()).toBeNull()
      yield* second.give
      yield* Fiber.join(third)
    }))

  it.effect("a lent slot is one more for now, and the next release takes it back: the count is kept", () =>
    Effect.gen(function*() {
      const slots = yield* makeWriteSlots(1)
      yield* slots.acquire
      // The holder waits on a lock: it lends; someone else writes meanwhile.
      yield* slots.lend
      yield* slots.acquire
      yield* slots.release
      yield* slots.release
      // Back to one slot: one acquire passes, a second waits.
      yield* slots.acquire
      const waiting = yield* Effect.fork(slots.acquire)
      yield* Effect.yieldNow().pipe(Effect.repeatN(10))
      expect(waiting.unsafePoll()).toBeNull()
      yield* slots.release
      yield* Fiber.join(waiting)
    }))
})
