import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { runJobOnce } from "../../src/jobs/Jobs.js"
import {
  at,
  ensureDays,
  insertPackets,
  insertPayments,
  jobsTestDatabase,
  markDirty,
  type Packet,
  recomputedFromRaw,
  rolledUp,
  runnerLayer,
  watermark
} from "./support.js"

const hour = (iso: string) => at(`${iso}:00:00Z`)

/** A packet every 10 minutes for each gateway over [from, to), with varied contents. */
const packets = (gateways: ReadonlyArray<string>, from: Date, to: Date): Array<Packet> => {
  const out: Array<Packet> = []
  for (let t = from.getTime(), i = 0; t < to.getTime(); t += 600_000, i++) {
    for (const gateway of gateways) {
      const idle = i % 7 === 3
      out.push({
        gateway,
        windowStart: new Date(t),
        requests: idle ? 0 : 5 + (i % 11),
        revenue: idle ? "0" : `${(i % 5) + 1}.123456789012345678`,
        p50: idle ? null : 10 + (i % 9),
        p99: idle ? null : 50 + (i % 13) * 3,
        max: idle ? null : 100 + i % 17,
        asset: idle ? null : "USDC"
      })
    }
  }
  return out
}

const payments = (gateway: string, from: Date, to: Date, everyMinutes: number) => {
  const out: Array<{ gateway: string; at: Date; amount: string }> = []
  for (let t = from.getTime(), i = 0; t < to.getTime(); t += everyMinutes * 60_000, i++) {
    out.push({ gateway, at: new Date(t + 17_000), amount: `0.${String(1000 + i).padStart(18, "7")}` })
  }
  return out
}

const expectMatchesRaw = Effect.gen(function*() {
  const w = yield* watermark
  expect(w).not.toBeNull()
  const actual = yield* rolledUp(w!)
  const expected = yield* recomputedFromRaw(w!)
  expect(actual.length).toBeGreaterThan(0)
  expect(actual).toEqual(expected)
})

layer(jobsTestDatabase(), { excludeTestServices: true })("rollup: catch-up, late data, gaps", (it) => {
  const now = at("2024-03-15T10:20:00Z")

  it.effect("first run starts at the oldest data and rolls up every closed hour, as raw rows say", () =>
    Effect.gen(function*() {
      yield* ensureDays("gateway_telemetry", "2024-03-13", "2024-03-16")
      yield* insertPackets(packets(["gw-a", "gw-b"], hour("2024-03-13T22"), at("2024-03-15T10:15:00Z")))
      yield* insertPayments(payments("gw-a", hour("2024-03-13T22"), at("2024-03-15T10:15:00Z"), 7))
      yield* insertPayments(payments("gw-c", hour("2024-03-14T02"), hour("2024-03-14T09"), 13))
      // Older than any telemetry partition: a payment-only bucket.
      yield* insertPayments([{ gateway: "gw-a", at: at("2024-03-01T05:42:00Z"), amount: "12.5" }])

      const dry = yield* runJobOnce("rollup", { now, dryRun: true })
      expect(dry.summary).toContain(
        "would advance the watermark from 2024-03-01T05:00Z to 2024-03-15T10:00Z: 341 hour(s) in 15 transaction(s)"
      )
      expect(yield* watermark).toBeNull()

      const report = yield* runJobOnce("rollup", { now })
      expect(report.status, report.summary).toBe("ok")
      expect(report.summary).toContain("first rollup: starting at 2024-03-01T05:00Z")
      // 2024-03-01T05 → 2024-03-15T10 is 341 hours: 15 chunks of 24.
      expect(report.actions.filter((a) => a.what.startsWith("rolled up hours")).length).toBe(15)
      expect(yield* watermark).toEqual(hour("2024-03-15T10"))
      yield* expectMatchesRaw

      const sql = yield* SqlClient.SqlClient
      const [old] = yield* sql<{ payment_count: string; payment_amount: string; packets: number }>`
        SELECT payment_count::text, payment_amount::text, packets FROM gateway_stats_hourly
         WHERE gateway_id = 'gw-a' AND hour = '2024-03-01T05:00:00Z'`
      expect(old).toEqual({ payment_count: "1", payment_amount: "12.500000000000000000", packets: 0 })
      // The current hour is not rolled up yet.
      const current = yield* sql`SELECT 1 FROM gateway_stats_hourly WHERE hour >= '2024-03-15T10:00:00Z'`
      expect(current.length).toBe(0)
    }))

  it.effect("a second run at the same instant changes nothing", () =>
    Effect.gen(function*() {
      const before = yield* rolledUp(hour("2024-03-15T10"))
      const report = yield* runJobOnce("rollup", { now })
      expect(report.status).toBe("ok")
      expect(report.summary).toContain("is current")
      expect(yield* rolledUp(hour("2024-03-15T10"))).toEqual(before)
    }))

  it.effect("late data below the watermark is recomputed from its dirty marks; marks above it stay", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* insertPackets([{ gateway: "gw-a", windowStart: at("2024-03-14T03:31:00Z"), requests: 1000, p50: 999 }])
      yield* insertPayments([{ gateway: "gw-b", at: at("2024-03-14T05:10:00Z"), amount: "3.25" }])
      yield* insertPackets([{ gateway: "gw-b", windowStart: at("2024-03-15T10:16:00Z") }])
      yield* markDirty("gw-a", hour("2024-03-14T03"))
      yield* markDirty("gw-b", hour("2024-03-14T05"))
      yield* markDirty("gw-b", hour("2024-03-15T10"))

      const report = yield* runJobOnce("rollup", { now })
      expect(report.status, report.summary).toBe("ok")
      expect(report.summary).toContain("recomputed 2 dirty bucket(s) from 2024-03-14T05:00Z back to 2024-03-14T03:00Z")
      yield* expectMatchesRaw
      const marks = yield* sql<{ gateway_id: string }>`SELECT gateway_id FROM rollup_dirty`
      expect(marks).toEqual([{ gateway_id: "gw-b" }])
      const [bucket] = yield* sql<{ payment_count: string }>`
        SELECT payment_count::text FROM gateway_stats_hourly WHERE gateway_id = 'gw-b' AND hour = '2024-03-14T05:00:00Z'`
      expect(bucket?.payment_count).toBe("1")
    }))

  it.effect("dirty buckets are recomputed newest first", () =>
    Effect.gen(function*() {
      for (const h of ["2024-03-14T01", "2024-03-15T07", "2024-03-14T20"]) {
        yield* insertPackets([{ gateway: "gw-a", windowStart: at(`${h}:59:00Z`) }])
        yield* markDirty("gw-a", hour(h))
      }
      const report = yield* runJobOnce("rollup", { now }).pipe(Effect.provide(runnerLayer({ rollupDirtyBatch: 1 })))
      const order = report.actions.filter((a) => a.what.startsWith("recomputed")).map((a) => a.what.slice(-17))
      expect(order).toEqual(["2024-03-15T07:00Z", "2024-03-14T20:00Z", "2024-03-14T01:00Z"])
      yield* expectMatchesRaw
    }))

  it.effect("hours missed while no worker ran are backfilled in bounded chunks", () =>
    Effect.gen(function*() {
      const later = at("2024-03-16T02:30:00Z")
      yield* insertPackets(packets(["gw-a", "gw-d"], at("2024-03-15T10:20:00Z"), at("2024-03-16T02:20:00Z")))
      yield* insertPayments(payments("gw-d", hour("2024-03-15T12"), hour("2024-03-16T02"), 11))
      const report = yield* runJobOnce("rollup", { now: later }).pipe(Effect.provide(runnerLayer({ rollupChunkHours: 6 })))
      expect(report.status, report.summary).toBe("ok")
      const chunks = report.actions.filter((a) => a.what.startsWith("rolled up hours")).map((a) => a.what)
      expect(chunks).toEqual([
        "rolled up hours 2024-03-15T10:00Z to 2024-03-15T16:00Z",
        "rolled up hours 2024-03-15T16:00Z to 2024-03-15T22:00Z",
        "rolled up hours 2024-03-15T22:00Z to 2024-03-16T02:00Z"
      ])
      expect(yield* watermark).toEqual(hour("2024-03-16T02"))
      yield* expectMatchesRaw
      const sql = yield* SqlClient.SqlClient
      // The current-hour mark of the previous test was covered by the advance and is gone.
      expect(yield* sql`SELECT * FROM rollup_dirty`).toEqual([])
    }))

  it.effect("a dry run reports without changing anything", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* markDirty("gw-a", hour("2024-03-14T04"))
      const report = yield* runJobOnce("rollup", { now: at("2024-03-16T05:01:00Z"), dryRun: true })
      expect(report.summary).toContain("rollup (dry run): ok")
      expect(report.summary).toContain("would recompute dirty buckets below the watermark 2024-03-16T02:00Z (1 bucket(s)")
      expect(report.summary).toContain("would advance the watermark from 2024-03-16T02:00Z to 2024-03-16T05:00Z: 3 hour(s)")
      expect(yield* watermark).toEqual(hour("2024-03-16T02"))
      expect((yield* sql`SELECT * FROM rollup_dirty`).length).toBe(1)
      const runs = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM job_runs WHERE details->>'now' LIKE '2024-03-16T05%'`
      expect(runs[0]?.n).toBe(0)
    }))

  it.effect("every run is recorded in job_runs with its steps", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ status: string; steps: number; finished: boolean }>`
        SELECT status, jsonb_array_length(details->'actions') AS steps, finished_at IS NOT NULL AS finished
          FROM job_runs WHERE job = 'rollup' ORDER BY id`
      expect(rows.length).toBe(5)
      expect(rows.every((row) => row.status === "ok" && row.finished && row.steps > 0)).toBe(true)
    }))
})
