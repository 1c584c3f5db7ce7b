/** The body budget: per-gateway and total limits, given back on release; its settings are checked at start-up. */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either } from "effect"
import { BodyBudget } from "../../src/ingest/BodyBudget.js"
import { IngestSettingsConfig } from "../../src/ingest/IngestConfig.js"

describe("BodyBudget", () => {
  it("refuses past a gateway's share or the total, and takes again once released", () => {
    const budget = new BodyBudget({ total: 10, perGateway: 6 })
    expect(budget.reserve("a", "v", 4)).toBe(true)
    expect(budget.reserve("a", "v", 3)).toBe(false) // 7 > 6 for a
    expect(budget.reserve("b", "v", 6)).toBe(true)
    expect(budget.reserve("c", "v", 1)).toBe(false) // 11 > 10 in total
    expect(budget.total).toBe(10)
    budget.release("a", "v", 4)
    expect(budget.reserve("c", "v", 1)).toBe(true)
    expect(budget.reserve("a", "v", 3)).toBe(true)
    budget.release("a", "v", 3)
    budget.release("b", "v", 6)
    budget.release("c", "v", 1)
    expect(budget.total).toBe(0)
    budget.release("d", "v", 0)
    expect(budget.reserve("a", "v", 6)).toBe(true)
  })
})

describe("BodyBudget per vendor", () => {
  it("one vendor's gateways together stop at the vendor's share; another vendor still gets its own", () => {
    // The default proportions: total 128, per gateway 32, per vendor 64 (MiB).
    const budget = new BodyBudget({ total: 128, perGateway: 32, perVendor: 64 })
    expect(budget.reserve("e1", "evil", 32)).toBe(true)
    expect(budget.reserve("e2", "evil", 32)).toBe(true)
    // A third and a fourth gateway of the same vendor: refused (the probe held all 128 with four).
    expect(budget.reserve("e3", "evil", 1)).toBe(false)
    expect(budget.reserve("e4", "evil", 32)).toBe(false)
    expect(budget.reserve("a1", "acme", 32)).toBe(true)
    expect(budget.reserve("a2", "acme", 32)).toBe(true)
    expect(budget.total).toBe(128)
    budget.release("e1", "evil", 32)
    expect(budget.reserve("e3", "evil", 32)).toBe(true)
  })
})

describe("BodyBudget.hold", () => {
  it("takes for its gateway, gives all of it back once, and takes nothing after", () => {
    const budget = new BodyBudget({ total: 10, perGateway: 6 })
    const hold = budget.hold("a", "v")
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
      const batch = yield* settings([["INGEST_BATCH_MAX_BYTES", String(1024 ** 3)]])
      expect(Either.isLeft(batch)).toBe(true)
      if (Either.isLeft(batch)) expect(String(batch.left)).toContain("INGEST_BATCH_MAX_BYTES must be at most")
      const vendor = yield* settings([["INGEST_MAX_BODY_BYTES", "1000"], ["INGEST_MAX_BODY_BYTES_IN_FLIGHT_PER_VENDOR", "999"]])
      expect(Either.isLeft(vendor)).toBe(true)
      if (Either.isLeft(vendor)) expect(String(vendor.left)).toContain("INGEST_MAX_BODY_BYTES_IN_FLIGHT_PER_VENDOR")
    }))
})
