/**
 * The whole system in its short form (issue 15): two receivers, an api process and a worker on a
 * fresh database; the gateway simulator (on the gateway library) against both receivers; SSE
 * subscribers on every topic kind. Every acknowledged event stored once, every committed event
 * delivered to exactly the subscribers whose topics cover it, the console's figures equal to
 * what was sent, no client-side drop. `npm run e2e` runs the full 10,000 events/s form.
 */
import { describe, expect, inject, it } from "vitest"
import { runE2e } from "../../testkit/e2e/run.js"

describe("the system end to end (short form)", { timeout: 240_000 }, () => {
  it("loses nothing from gateway to database to SSE to the console's metrics", async () => {
    const result = await runE2e({
      adminUrl: inject("adminDatabaseUrl"),
      rate: 400,
      seconds: 5,
      gateways: 4,
      processes: 1,
      agentSubscribers: 4,
      keep: false,
      log: (line) => console.log(line)
    })
    const failed = result.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`)
    expect(failed).toEqual([])
    expect(result.report.events).toBeGreaterThan(1000)
    expect(result.checks.filter((c) => c.name.startsWith("delivered: "))).toHaveLength(1 + 4 + 4)
    expect(result.ok).toBe(true)
  })
})
