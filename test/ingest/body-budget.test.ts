/** The body budget: per-gateway and total limits, given back on release; its settings are checked at start-up. */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either } from "effect"
import { BodyBudget } from "../../src/ingest/BodyBudget.js"
import { IngestSettingsConfig } from "../../src/ingest/IngestConfig.js"

describe("BodyBudget", () => {
  it("refuses past a gateway's share or the total, and takes again once released", () => {
    const budget = new BodyBudget({ total: 10, perGateway: 6 })
    expect(budget.reserve("a", 4)).toBe(true)
    expect(budget.reserve("a", 3)).toBe(false) // 7 > 6 for a
    expect(budget.reserve("b", 6)).toBe(true)
    expect(budget.reserve("c", 1)).toBe(false) // 11 > 10 in total
    expect(budget.total).toBe(10)
    budget.release("a", 4)
    expect(budget.reserve("c", 1)).toBe(true)
    expect(budget.reserve("a", 3)).toBe(true)
    budget.release("a", 3)
    budget.release("b", 6)
    budget.release("c", 1)
    expect(budget.total).toBe(0)
    budget.release("d", 0)
    expect(budget.reserve("a", 6)).toBe(true)
  })
})

describe("BodyBudget.hold", () => {
  it("takes for its gateway, gives all of it back once, and takes nothing after", () => {
    const budget = new BodyBudget({ total: 10, perGateway: 6 })
    const hold = budget.hold("a")
    expect(hold.take(4)).toBe(true)
    expect(hold.take(3)).toBe(false)
    expect(hold.take(2)).toBe(true)
    expect(budget.total).toBe(6)
    hold.release()
    hold.release()
    expect(budget.total).toBe(0)
    expect(hold.take(1)).toBe(false)
    expect(budget.total).toBe(0)
  })
})

describe("body budget settings", () => {
  const settings = (entries: ReadonlyArray<readonly [string, string]>) =>
    Effect.either(Effect.withConfigProvider(Effect.flatMap(IngestSettingsConfig, Effect.succeed), ConfigProvider.fromMap(new Map(entries))))

  it.effect("defaults hold several bodies of the largest size", () =>
    Effect.gen(function*() {
      const ok = yield* settings([])
      expect(Either.isRight(ok) && ok.right.maxBodyBytesInFlightPerGateway / ok.right.maxBodyBytes).toBeGreaterThanOrEqual(4)
    }))

  it.effect("a budget smaller than one body stops the start with a message naming the variables", () =>
    Effect.gen(function*() {
      const bad = yield* settings([["INGEST_MAX_BODY_BYTES", "1000"], ["INGEST_MAX_BODY_BYTES_IN_FLIGHT_PER_GATEWAY", "999"]])
      expect(Either.isLeft(bad)).toBe(true)
      if (Either.isLeft(bad)) expect(String(bad.left)).toContain("INGEST_MAX_BODY_BYTES_IN_FLIGHT_PER_GATEWAY")
    }))
})
