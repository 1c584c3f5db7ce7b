/** Pure helpers behind the query parameters: decimal comparison and signed cursors. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { cursorKeyOf, cursorOf, cursorScope } from "../../src/console/Cursor.js"
import { compareDecimals, CursorSeq, CursorTime } from "../../src/console/Params.js"

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
  const payments = cursorOf("payments", CursorTime, CursorSeq)
  const alerts = cursorOf("alerts", CursorTime, CursorSeq)
  const mine = cursorScope("vendor:a", { asset: "USDC", limit: "5" })
  const key = cursorKeyOf("cursor-test-secret-cursor-test-secret")
  const refused = (cursor: string, scope = mine) =>
    Effect.map(Effect.either(payments.decode(scope, cursor)), (r) => Either.isLeft(r) && r.left.issues[0]?.path)

  it.effect("round-trips its values for the same list, caller and filters", () =>
    Effect.gen(function*() {
      const cursor = yield* payments.encode(mine, "2025-06-01T12:00:00.123456Z", "42")
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
      expect(yield* payments.decode(mine, cursor)).toEqual(["2025-06-01T12:00:00.123456Z", "42"])
      // The page size is not part of the scope: a client may change it between pages.
      expect(yield* payments.decode(cursorScope("vendor:a", { asset: "USDC" }), cursor)).toEqual(["2025-06-01T12:00:00.123456Z", "42"])
    }).pipe(Effect.provide(key)))

  it.effect("refuses another list's, caller's or query's cursor, an edited one, garbage, and values out of range", () =>
    Effect.gen(function*() {
      const good = yield* payments.encode(mine, "2025-06-01T12:00:00Z", "1")
      const [body, tag] = good.split(".")
      const forged = `${Buffer.from(JSON.stringify(["payments", ["2025-06-01T12:00:00Z", "2"]])).toString("base64url")}.${tag}`
      for (
        const bad of [
          yield* alerts.encode(mine, "2025-06-01T12:00:00Z", "1"),
          "bm9wZQ",
          `${body}`,
          forged,
          `${body}.${tag}.x`,
          // Signed, but holding what the server never prints: PostgreSQL would refuse these.
          yield* payments.encode(mine, "2025-06-01T12:00:00Z", "9223372036854775808"),
          yield* payments.encode(mine, "0000-01-01T00:00:00Z", "1"),
          yield* payments.encode(mine, "yesterday", "1")
        ]
      ) expect(yield* refused(bad), bad).toEqual(["cursor"])
      expect(yield* refused(good, cursorScope("vendor:b", { asset: "USDC" }))).toEqual(["cursor"])
      expect(yield* refused(good, cursorScope("vendor:a", { asset: "EURC" }))).toEqual(["cursor"])
      expect(yield* refused(good, mine)).toBe(false)
      // Another key (another deployment) does not verify.
      expect(yield* refused(good).pipe(Effect.provide(cursorKeyOf("another-secret-another-secret-another")))).toEqual(["cursor"])
    }).pipe(Effect.provide(key)))

  it("bounds sequences to bigint", () => {
    expect(Schema.is(CursorSeq)("9223372036854775807")).toBe(true)
    expect(Schema.is(CursorSeq)("9223372036854775808")).toBe(false)
    expect(Schema.is(CursorSeq)("-1")).toBe(false)
  })
})
