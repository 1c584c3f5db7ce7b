/** Pure helpers behind the query parameters: decimal comparison and cursors. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { compareDecimals, CursorTime, cursorOf } from "../../src/console/Params.js"

describe("compareDecimals", () => {
  it("orders decimal strings exactly, beyond float precision", () => {
    expect(compareDecimals("0.1", "0.10")).toBe(0)
    expect(compareDecimals("0.1000000000000000001", "0.1")).toBeGreaterThan(0)
    expect(compareDecimals("9", "10")).toBeLessThan(0)
    expect(compareDecimals("12.5", "12.49")).toBeGreaterThan(0)
    expect(compareDecimals("00012", "12.0")).toBe(0)
  })
})

describe("cursorOf", () => {
  const payments = cursorOf("payments", CursorTime, Schema.String)
  const alerts = cursorOf("alerts", CursorTime, Schema.String)

  it.effect("round-trips its values and refuses another list's cursor or garbage", () =>
    Effect.gen(function*() {
      const cursor = payments.encode("2025-06-01T12:00:00.123456Z", "42")
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/)
      expect(yield* payments.decode(cursor)).toEqual(["2025-06-01T12:00:00.123456Z", "42"])
      for (const bad of [alerts.encode("2025-06-01T12:00:00Z", "1"), "bm9wZQ", payments.encode("yesterday", "1")]) {
        const result = yield* Effect.either(payments.decode(bad))
        expect(Either.isLeft(result) && result.left.issues[0]?.path).toEqual(["cursor"])
      }
    }))
})
