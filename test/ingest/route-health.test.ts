/** What `/health` says about the routes: a failing route, and a flush running too long, without database text. */
import { describe, expect, it } from "vitest"
import type { RouteStatus } from "../../src/ingest/Batcher.js"
import { StoreError } from "../../src/ingest/EventStore.js"
import { routeHealth, STUCK_AFTER_MS } from "../../src/ingest/RouteHealth.js"

const NOW = 1_000_000
const context = { now: NOW, pending: 0, capacity: 100, spilledPending: 0 }
const route = (overrides: Partial<RouteStatus>): RouteStatus => ({
  route: "PaymentAuthorized",
  queued: 0,
  inFlight: 0,
  inFlightSince: undefined,
  failure: undefined,
  ...overrides
})

describe("routeHealth", () => {
  it("a flush running past a few seconds (a lock someone holds) is reported, long before the write timeout", () => {
    expect(STUCK_AFTER_MS).toBeLessThanOrEqual(5_000)
    expect(routeHealth([route({ inFlight: 3, inFlightSince: NOW - 1_000 })], context)).toEqual({ status: "ok" })
    expect(routeHealth([route({ inFlight: 3, inFlightSince: NOW - 6_000 })], context)).toEqual({
      status: "degraded",
      reason: "PaymentAuthorized flush running for 6 s"
    })
  })

  it("a journal that refused a write is reported (until a request is taken again)", () => {
    expect(routeHealth([], { ...context, journalFailure: { at: NOW - 3_000, what: "ENOSPC" } })).toEqual({
      status: "degraded",
      reason: "the journal refused a write 3 s ago (ENOSPC); requests get 503"
    })
  })

  it("a failing route says its class and SQLSTATE, never the database's text", () => {
    const error = new StoreError({ message: "database \"secret_db\" is not currently accepting connections", kind: "unavailable", code: "55000" })
    const health = routeHealth([route({ failure: { error, since: NOW - 12_000 } })], context)
    expect(health).toEqual({
      status: "degraded",
      reason: "PaymentAuthorized not committing for 12 s: the database is unavailable (SQLSTATE 55000)"
    })
    expect(JSON.stringify(health)).not.toContain("secret_db")
  })
})
