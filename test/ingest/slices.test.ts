import { Effect, Fiber } from "effect"
import { describe, expect, it } from "vitest"
import { forEachInSlices } from "../../src/ingest/Slices.js"

describe("forEachInSlices", () => {
  it("visits every item once, in order, with its index", async () => {
    const items = Array.from({ length: 1234 }, (_, i) => `e${i}`)
    const seen: Array<string> = []
    await Effect.runPromise(forEachInSlices(items, (item, index) => void seen.push(`${index}:${item}`), { items: 100 }))
    expect(seen).toEqual(items.map((item, i) => `${i}:${item}`))
  })

  it("lets I/O callbacks already queued run between slices, not within one", async () => {
    const log: Array<string> = []
    // Queued before the work starts: it runs at the first yield, after the first slice.
    setImmediate(() => log.push("io"))
    await Effect.runPromise(forEachInSlices([1, 2, 3, 4, 5], (n) => void log.push(`item ${n}`), { items: 2 }))
    expect(log).toEqual(["item 1", "item 2", "io", "item 3", "item 4", "item 5"])
  })

  it("never yields for a single slice", async () => {
    const log: Array<string> = []
    setImmediate(() => log.push("io"))
    await Effect.runPromise(forEachInSlices([1, 2, 3], (n) => void log.push(`item ${n}`), { items: 3 }))
    expect(log).toEqual(["item 1", "item 2", "item 3"])
  })

  it("ends a slice once the sizes returned reach the weight, whatever the count", async () => {
    const log: Array<string> = []
    setImmediate(() => log.push("io"))
    setImmediate(() => setImmediate(() => log.push("io 2")))
    // Sizes 3, 1, 5, 1 with a weight of 4: [3, 1] reach 4, then [5] alone, then [1].
    await Effect.runPromise(forEachInSlices([3, 1, 5, 1], (n) => {
      log.push(`item ${n}`)
      return n
    }, { items: 100, weight: 4 }))
    expect(log).toEqual(["item 3", "item 1", "io", "item 5", "io 2", "item 1"])
  })

  it("stops at interruption between slices", async () => {
    const seen: Array<number> = []
    const items = Array.from({ length: 10 }, (_, i) => i)
    const fiber = Effect.runFork(forEachInSlices(items, (n) => void seen.push(n), { items: 2 }))
    // Interrupted before its first yield ends: at most the first slice ran.
    await Effect.runPromise(Fiber.interrupt(fiber))
    expect(seen.length).toBeLessThanOrEqual(2)
    expect(seen).toEqual(items.slice(0, seen.length))
  })
})
