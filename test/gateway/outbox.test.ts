import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Logger, Stream, TestClock } from "effect"
import { makeOutbox } from "../../gateway/Outbox.js"

const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ message }) => lines.push(Array.isArray(message) ? message.join(" ") : String(message)))
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describe("gateway outbox", () => {
  it.effect("emits a batch as soon as it is full", () =>
    Effect.gen(function*() {
      const outbox = yield* makeOutbox<number>({ capacity: 100 })
      const fiber = yield* outbox.batches(3, "1 second").pipe(Stream.take(2), Stream.runCollect, Effect.fork)
      for (let i = 0; i < 6; i++) yield* outbox.offer(i)
      const batches = yield* Fiber.join(fiber)
      expect(Chunk.toReadonlyArray(batches)).toEqual([[0, 1, 2], [3, 4, 5]])
    }))

  it.effect("emits a partial batch only once its time bound has passed", () =>
    Effect.gen(function*() {
      const outbox = yield* makeOutbox<number>({ capacity: 100 })
      const fiber = yield* outbox.batches(10, "200 millis").pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* outbox.offer(1)
      yield* outbox.offer(2)
      yield* TestClock.adjust("199 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      const batches = yield* Fiber.join(fiber)
      expect(Chunk.toReadonlyArray(batches)).toEqual([[1, 2]])
    }))

  it.effect("refuses, counts and logs events offered to a full buffer", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const outbox = yield* makeOutbox<number>({ capacity: 3, logEvery: "5 seconds" })
      const offered = yield* Effect.forEach([1, 2, 3, 4, 5], (n) => outbox.offer(n))
      expect(offered).toEqual([true, true, true, false, false])
      expect((yield* outbox.drops).buffer_full).toBe(2)
      // One summary line for a burst of drops, not one per event.
      expect(logs.lines.filter((l) => l.includes("outbox full"))).toHaveLength(1)
      expect(logs.lines[0]).toContain("dropped 1 event(s)")
      yield* TestClock.adjust("5 seconds")
      yield* outbox.offer(6)
      const full = logs.lines.filter((l) => l.includes("outbox full"))
      expect(full).toHaveLength(2)
      expect(full[1]).toContain("dropped 2 event(s) since the last report, 3 in all")
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("counts and logs batches dropped after sending, and drains", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const outbox = yield* makeOutbox<number>({ capacity: 10 })
      yield* Effect.forEach([1, 2, 3], (n) => outbox.offer(n))
      const drained = yield* outbox.drained.pipe(Effect.fork)
      yield* outbox.finish(1)
      expect(drained.unsafePoll()).toBeNull()
      yield* outbox.finish(2, { reason: "gave_up", detail: "no delivery after 3 attempts" })
      yield* Fiber.join(drained)
      expect((yield* outbox.drops).gave_up).toBe(2)
      expect(logs.lines.some((l) => l.includes("dropped 2 event(s) (gave_up): no delivery after 3 attempts"))).toBe(true)
    }).pipe(Effect.provide(logs.layer))
  })
})
