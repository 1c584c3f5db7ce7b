/**
 * Two workers (two pools, as two processes would have) never run the same job at once; a
 * lock held by a session that dies is released with it.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { expect, layer } from "@effect/vitest"
import { Effect, Fiber, Layer, Metric, Redacted } from "effect"
import pg from "pg"
import { PgPool } from "../../src/db/Database.js"
import { jobLockKey } from "../../src/jobs/JobLock.js"
import * as M from "../../src/jobs/JobMetrics.js"
import { runJobOnce } from "../../src/jobs/Jobs.js"
import { TestDatabaseInfo } from "../support/database.js"
import { at, jobsTestDatabase, runnerLayer } from "./support.js"

/** A runner on its own pool: the other worker. */
const otherWorker = Layer.unwrapScoped(
  Effect.gen(function*() {
    const info = yield* TestDatabaseInfo
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => new pg.Pool({ connectionString: Redacted.value(info.url), max: 3 })),
      (p) => Effect.promise(() => p.end())
    )
    return runnerLayer().pipe(
      Layer.provide(Layer.merge(PgClient.layerFromPool({ acquire: Effect.succeed(pool) }), Layer.succeed(PgPool, pool)))
    )
  })
)

const session = Effect.acquireRelease(
  Effect.flatMap(PgPool, (pool) => Effect.promise(() => pool.connect())),
  (client) => Effect.sync(() => client.release(true))
)

/** Advisory locks are per database; pg_locks shows every database's (other test files' jobs too). */
const lockHeld = (job: "rollup" | "partitions") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => {
    const [classId, objId] = jobLockKey(job)
    return Effect.map(
      sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_locks
        WHERE locktype = 'advisory' AND classid = ${classId} AND objid = ${objId} AND granted
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      (rows) => (rows[0]?.n ?? 0) > 0
    )
  })

const until = (condition: Effect.Effect<boolean, unknown, SqlClient.SqlClient>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      if (yield* Effect.orDie(condition)) return
      yield* Effect.sleep("20 millis")
    }
    return yield* Effect.die(new Error("condition not reached in 10 s"))
  })

const now = at("2024-07-01T08:30:00Z")

layer(jobsTestDatabase(), { excludeTestServices: true })("one worker per job", (it) => {
  it.scoped("two workers start the rollup at once: one runs, the other is skipped", () =>
    Effect.gen(function*() {
      // Keep the first run busy (its first query waits on this lock) while the second tries.
      const blocker = yield* session
      yield* Effect.promise(() => blocker.query("BEGIN"))
      yield* Effect.promise(() => blocker.query("LOCK TABLE rollup_state IN ACCESS EXCLUSIVE MODE"))
      const first = yield* Effect.fork(runJobOnce("rollup", { now }))
      yield* until(lockHeld("rollup"))

      const skippedBefore = yield* Metric.value(Metric.tagged(Metric.tagged(M.jobRunsTotal, "job", "rollup"), "status", "skipped"))
      const second = yield* runJobOnce("rollup", { now }).pipe(Effect.provide(otherWorker))
      expect(second.status).toBe("skipped")
      expect(second.summary).toBe("rollup: skipped: held by another worker")
      const skippedAfter = yield* Metric.value(Metric.tagged(Metric.tagged(M.jobRunsTotal, "job", "rollup"), "status", "skipped"))
      expect(skippedAfter.count - skippedBefore.count).toBe(1)

      // Another job is not held up by this one.
      const partitions = yield* runJobOnce("partitions", { now }).pipe(Effect.provide(otherWorker))
      expect(partitions.status, partitions.summary).toBe("ok")

      yield* Effect.promise(() => blocker.query("COMMIT"))
      const done = yield* Fiber.join(first)
      expect(done.status, done.summary).toBe("ok")
      expect(yield* lockHeld("rollup")).toBe(false)

      // Once released, the other worker takes its turn.
      const later = yield* runJobOnce("rollup", { now }).pipe(Effect.provide(otherWorker))
      expect(later.status, later.summary).toBe("ok")
      const sql = yield* SqlClient.SqlClient
      const runs = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM job_runs WHERE job = 'rollup'`
      expect(runs[0]?.n).toBe(2)
    }))

  it.scoped("many concurrent attempts: exactly one runs", () =>
    Effect.gen(function*() {
      const blocker = yield* session
      yield* Effect.promise(() => blocker.query("BEGIN"))
      yield* Effect.promise(() => blocker.query("LOCK TABLE rollup_state IN ACCESS EXCLUSIVE MODE"))
      const attempts = yield* Effect.fork(Effect.all([
        runJobOnce("rollup", { now }),
        runJobOnce("rollup", { now }).pipe(Effect.provide(otherWorker)),
        runJobOnce("rollup", { now }).pipe(Effect.provide(otherWorker)),
        runJobOnce("rollup", { now })
      ], { concurrency: "unbounded" }))
      yield* until(lockHeld("rollup"))
      yield* Effect.sleep("300 millis")
      yield* Effect.promise(() => blocker.query("COMMIT"))
      const reports = yield* Fiber.join(attempts)
      expect(reports.map((r) => r.status).sort()).toEqual(["ok", "skipped", "skipped", "skipped"])
    }))

  it.scoped("a lock held by a session that dies is released with it", () =>
    Effect.gen(function*() {
      const [classId, objId] = jobLockKey("partitions")
      const dying = yield* Effect.flatMap(PgPool, (pool) => Effect.promise(() => pool.connect()))
      yield* Effect.promise(() => dying.query("SELECT pg_advisory_lock($1, $2)", [classId, objId]))
      const held = yield* runJobOnce("partitions", { now })
      expect(held.status).toBe("skipped")
      // The process dies: its connection closes without unlocking.
      dying.release(true)
      yield* until(Effect.map(lockHeld("partitions"), (h) => !h))
      const after = yield* runJobOnce("partitions", { now })
      expect(after.status, after.summary).toBe("ok")
    }))
})
