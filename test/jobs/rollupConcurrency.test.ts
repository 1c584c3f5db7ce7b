/**
 * The rollup against a concurrent ingest writer: marks re-added during a recomputation
 * survive, an in-flight writer is waited for, and claims outlive a failed run.
 */
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import type pg from "pg"
import { PgPool } from "../../src/db/Database.js"
import { runJobOnce } from "../../src/jobs/Jobs.js"
import {
  at,
  ensureDays,
  insertPackets,
  jobsTestDatabase,
  markDirty,
  recomputedFromRaw,
  rolledUp,
  runnerLayer,
  setWatermark
} from "./support.js"

const now = at("2024-05-01T12:10:00Z")
const bucket = at("2024-05-01T09:00:00Z")

/** A second session, as the ingest writer's would be. */
const session = Effect.acquireRelease(
  Effect.flatMap(PgPool, (pool) => Effect.promise(() => pool.connect())),
  (client) => Effect.sync(() => client.release(true))
)

const q = (client: pg.PoolClient, text: string, values: ReadonlyArray<unknown> = []) =>
  Effect.promise(() => client.query(text, [...values]))

const claimed = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(sql<{ n: number }>`SELECT count(*)::int AS n FROM rollup_claimed`, (rows) => rows[0]?.n ?? 0))

const poll = (condition: Effect.Effect<boolean, unknown, SqlClient.SqlClient>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      if (yield* Effect.orDie(condition)) return
      yield* Effect.sleep("20 millis")
    }
    return yield* Effect.die(new Error("condition not reached in 10 s"))
  })

const matchesRaw = Effect.gen(function*() {
  expect(yield* rolledUp(at("2024-05-01T12:00:00Z"))).toEqual(yield* recomputedFromRaw(at("2024-05-01T12:00:00Z")))
})

layer(jobsTestDatabase(), { excludeTestServices: true })("rollup vs. a concurrent writer", (it) => {
  it.effect("setup: hours rolled up to 12:00", () =>
    Effect.gen(function*() {
      yield* ensureDays("gateway_telemetry", "2024-05-01", "2024-05-01")
      yield* insertPackets([
        { gateway: "gw-1", windowStart: at("2024-05-01T08:30:00Z") },
        { gateway: "gw-1", windowStart: at("2024-05-01T09:30:00Z") },
        { gateway: "gw-1", windowStart: at("2024-05-01T11:30:00Z") }
      ])
      const report = yield* runJobOnce("rollup", { now })
      expect(report.status, report.summary).toBe("ok")
      yield* matchesRaw
    }))

  it.scoped("a mark re-added while its bucket is being recomputed survives, and the next run uses it", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* insertPackets([{ gateway: "gw-1", windowStart: at("2024-05-01T09:40:00Z"), requests: 100 }])
      yield* markDirty("gw-1", bucket)
      // Hold back the upsert (reads still pass; LOCK TABLE assigns no xid, so the writer barrier is not held).
      const blocker = yield* session
      yield* q(blocker, "BEGIN")
      yield* q(blocker, "LOCK TABLE gateway_stats_hourly IN EXCLUSIVE MODE")
      const run = yield* Effect.fork(runJobOnce("rollup", { now }))
      yield* poll(Effect.map(claimed, (n) => n === 1))
      yield* Effect.sleep("100 millis")
      // The writer flushes more late data for the same bucket while it is being recomputed.
      yield* insertPackets([{ gateway: "gw-1", windowStart: at("2024-05-01T09:50:00Z"), requests: 7 }])
      yield* markDirty("gw-1", bucket)
      yield* q(blocker, "COMMIT")
      const report = yield* Fiber.join(run)
      expect(report.status, report.summary).toBe("ok")
      const marks = yield* sql<{ hour: Date }>`SELECT hour FROM rollup_dirty`
      expect(marks).toEqual([{ hour: bucket }])
      const second = yield* runJobOnce("rollup", { now })
      expect(second.summary).toContain("recomputed 1 dirty bucket(s)")
      expect(yield* sql`SELECT * FROM rollup_dirty`).toEqual([])
      yield* matchesRaw
    }))

  it.scoped("an in-flight writer whose mark was already there is waited for before recomputing", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* markDirty("gw-1", bucket)
      const writer = yield* session
      yield* q(writer, "BEGIN")
      yield* q(writer, `INSERT INTO gateway_telemetry (window_start, gateway_id, source, event_id, received_at,
        window_seconds, requests_total, routes) VALUES ($1, 'gw-1', 'gw/gw-1', 'inflight-1', $1, 60, 55, '[]')`, [
        at("2024-05-01T09:55:00Z")
      ])
      // The mark exists: the writer's insert does nothing, and the mark is then claimed.
      yield* q(writer, "INSERT INTO rollup_dirty (gateway_id, hour) VALUES ('gw-1', $1) ON CONFLICT DO NOTHING", [bucket])
      const run = yield* Effect.fork(runJobOnce("rollup", { now }))
      yield* poll(Effect.map(claimed, (n) => n === 1))
      yield* Effect.sleep("200 millis")
      expect(Option.isNone(yield* Fiber.poll(run))).toBe(true)
      yield* q(writer, "COMMIT")
      const report = yield* Fiber.join(run)
      expect(report.status, report.summary).toBe("ok")
      expect(yield* sql`SELECT * FROM rollup_dirty`).toEqual([])
      expect(yield* claimed).toBe(0)
      yield* matchesRaw
      const [row] = yield* sql<{ requests_total: string }>`
        SELECT requests_total::text FROM gateway_stats_hourly WHERE gateway_id = 'gw-1' AND hour = ${bucket}`
      expect(row?.requests_total).toBe(String(10 + 100 + 7 + 55))
    }))

  it.scoped("when a writer does not finish in time the run fails and keeps its claims; the next run uses them", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* insertPackets([{ gateway: "gw-1", windowStart: at("2024-05-01T08:45:00Z"), requests: 3 }])
      yield* markDirty("gw-1", at("2024-05-01T08:00:00Z"))
      const writer = yield* session
      yield* q(writer, "BEGIN")
      yield* q(writer, "INSERT INTO dead_letters (reason, payload, payload_bytes) VALUES ('slow', '', 0)")
      const failed = yield* runJobOnce("rollup", { now }).pipe(Effect.provide(runnerLayer({ rollupWriterWaitMs: 300 })))
      expect(failed.status).toBe("failed")
      expect(failed.summary).toContain("did not finish within 300 ms")
      yield* q(writer, "ROLLBACK")
      expect(yield* claimed).toBe(1)
      const [run] = yield* sql<{ status: string; error: string }>`
        SELECT status, details->>'error' AS error FROM job_runs ORDER BY id DESC LIMIT 1`
      expect(run?.status).toBe("failed")
      const next = yield* runJobOnce("rollup", { now })
      expect(next.status, next.summary).toBe("ok")
      expect(yield* claimed).toBe(0)
      yield* matchesRaw
    }))
})

