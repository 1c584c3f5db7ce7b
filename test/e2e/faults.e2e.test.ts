/**
 * The durability fault scenarios of issue 4, in their short form, against the real server
 * process and a PostgreSQL server the test stops and starts. (`npx tsx load/faults.ts` runs
 * the full-length versions and prints the report.)
 */
import { describe, expect, it } from "vitest"
import { corruptJournal, databaseOutage, type FaultReport, journalFull, printReport, SHORT, sigkill, sigterm } from "../../testkit/faults/scenarios.js"

const run = async (scenario: (t: typeof SHORT) => Promise<FaultReport>) => {
  const report = await scenario(SHORT)
  printReport(report)
  return report
}

const noLoss = (report: FaultReport) => {
  expect(report.acknowledged).toBeGreaterThan(0)
  expect(report.lost).toBe(0)
  expect(report.storedTwice).toBe(0)
  expect(report.stored).toBeGreaterThanOrEqual(report.acknowledged)
}

describe("durability under faults (real server, short form)", { timeout: 180_000 }, () => {
  it("PostgreSQL stopped mid-load: ingest keeps answering, /health degraded, everything drains after", async () => {
    const report = await run(databaseOutage)
    noLoss(report)
    expect(report.notes.join()).toContain("degraded")
  })

  it("SIGTERM mid-load: the server drains and exits 0; after restart nothing acknowledged is missing", async () => {
    const report = await run(sigterm)
    noLoss(report)
    expect(report.notes).toContain("exit code 0")
  })

  it("SIGKILL mid-load in journal mode: every acknowledged event is replayed from the journal", async () => {
    noLoss(await run(sigkill))
  })

  it("journal full while the database is away: 503 + Retry-After, no crash, then recovery", async () => {
    const report = await run(journalFull)
    noLoss(report)
    expect(report.notes.some((n) => /probe while full: 503, Retry-After \d+/.test(n))).toBe(true)
    expect(report.notes).toContain("server alive while full: true")
  })

  it("a torn and bit-flipped journal segment: recovery keeps every intact record and reports the damage", async () => {
    const report = await run(corruptJournal)
    // The flipped byte destroys exactly one record (and the tear at most one more): those
    // acknowledged events are gone by construction; every other one must be stored.
    expect(report.acknowledged).toBeGreaterThan(0)
    expect(report.lost).toBeGreaterThanOrEqual(1)
    expect(report.lost).toBeLessThanOrEqual(2)
    expect(report.storedTwice).toBe(0)
    expect(report.notes.join()).toMatch(/journal recovery/)
  })
})
