import { describe, expect, it } from "vitest"
import { RecentKeys } from "../../src/ingest/RecentKeys.js"

describe("RecentKeys", () => {
  it("forgets the oldest key first once full", () => {
    const keys = new RecentKeys(3)
    for (const k of ["a", "b", "c", "d"]) keys.add(k)
    expect(["a", "b", "c", "d"].map((k) => keys.has(k))).toEqual([false, true, true, true])
    expect(keys.size).toBe(3)
    keys.add("e")
    expect(keys.has("b")).toBe(false)
    expect(keys.has("e")).toBe(true)
  })

  it("does not count a key twice", () => {
    const keys = new RecentKeys(2)
    keys.add("a")
    keys.add("a")
    keys.add("b")
    expect(keys.has("a") && keys.has("b")).toBe(true)
    expect(keys.size).toBe(2)
  })

  it("stays bounded over many keys", () => {
    const keys = new RecentKeys(1000)
    for (let i = 0; i < 100_000; i++) keys.add(`k${i}`)
    expect(keys.size).toBe(1000)
    expect(keys.has("k98999")).toBe(false)
    expect(keys.has("k99000")).toBe(true)
  })
})
