/**
 * Row retention on the real PostgreSQL: each table loses exactly the rows past its policy (the
 * day boundary included), in batches, without waiting on rows another transaction holds; a
 * gateway's newest configuration stays; `forever` keeps; dead letters are capped by size.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Metric, Option } from "effect"
import { randomBytes } from "node:crypto"
import { PgPool } from "../../src/db/Database.js"
import * as M from "../../src/jobs/JobMetrics.js"
import { runJobOnce } from "../../src/jobs/Jobs.js"
import { defaultRetentionSettings, type RetentionSettings, RetentionSettingsConfig } from "../../src/jobs/RetentionConfig.js"
import { fairLevel } from "../../src/jobs/RowRetention.js"
import { makeTestDatabase } from "../support/database.js"
import { at, insertPayments, runnerLayer } from "./support.js"

const now = at("2025-06-15T12:00:00Z")
const CAP = 12_000

const retention = (overrides: Partial<RetentionSettings>) =>
  runnerLayer({ retention: { ...defaultRetentionSettings, batchSize: 3, deadLettersMaxBytes: CAP, ...overrides } })

const count = (table: string, where = "true") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql(table)} WHERE ${sql.literal(where)}`, (r) => r[0]?.n ?? 0))

const deleted = (table: string, reason: "age" | "size") =>
  Effect.map(
    Metric.value(Metric.tagged(Metric.tagged(M.retentionRowsDeletedTotal, "table", table), "reason", reason)),
    (state) => state.count
  )

const blocked = (id: string, time: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO request_blocked (event_time, received_at, source, event_id, gateway_id, request_id, method, route,
        reason, severity) VALUES (${at(time)}, ${at(time)}, 'gw/gw-1', ${id}, 'gw-1', ${id}, 'GET', '/x', 'policy', 'low')`)

const alert = (id: string, time: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO solvency_alerts (event_time, received_at, source, event_id, gateway_id, agent_id, kind, severity,
        asset, network, balance, threshold) VALUES (${at(time)}, ${at(time)}, 'gw/gw-1', ${id}, 'gw-1', 'a', 'low_balance',
        'warning', 'USDC', 'base', 1, 2)`)

const config = (gateway: string, revision: string, time: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO gateway_config_history (gateway_id, revision, config, event_time, received_at)
        VALUES (${gateway}, ${revision}, '{}'::jsonb, ${at(time)}, ${at(time)})`)

const stats = (gateway: string, hour: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO gateway_stats_hourly (gateway_id, hour) VALUES (${gateway}, ${at(hour)})`)

const deadLetter = (time: string, bytes = 100, gateway: string | null = null) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO dead_letters (received_at, reason, payload, payload_bytes, gateway_id)
        VALUES (${at(time)}, 'invalid', ${randomBytes(bytes / 2).toString("hex")}, ${bytes}, ${gateway})`)

const archived = (id: string, lastEvent: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO payment_intents_archive (intent_id, gateway_id, agent_id, status, status_rank, amount, asset, network,
        created_at, updated_at, last_event_time, received_at) VALUES (${id}, 'gw-1', 'a', 'settled', 2, 1, 'USDC', 'base',
        ${at(lastEvent)}, ${at(lastEvent)}, ${at(lastEvent)}, ${at(lastEvent)})`)

describe("retention settings", () => {
  const read = (env: Record<string, string>) =>
    Effect.withConfigProvider(RetentionSettingsConfig, ConfigProvider.fromMap(new Map(Object.entries(env))))

  it.effect("days or forever; a bad value names its variable", () =>
    Effect.gen(function*() {
      const settings = yield* read({ RETENTION_PAYMENTS_DAYS: "forever", RETENTION_BLOCKED_DAYS: "30" })
      expect(settings.paymentsDays).toEqual(Option.none())
      expect(settings.blockedDays).toEqual(Option.some(30))
      expect(settings.jobRunsDays).toEqual(defaultRetentionSettings.jobRunsDays)
      for (const bad of ["0", "-3", "1.5", "a week"]) {
        const error = yield* Effect.flip(read({ RETENTION_DEAD_LETTERS_DAYS: bad }))
        expect(String(error)).toContain("RETENTION_DEAD_LETTERS_DAYS")
      }
    }))
})

layer(retention({}).pipe(Layer.provideMerge(makeTestDatabase())), { excludeTestServices: true })("row retention", (it) => {
  it.effect("setup: rows on both sides of every table's cutoff", () =>
    Effect.gen(function*() {
      // 2557 days (7 years) before 2025-06-15 is 2018-06-15: 7 older payments go, in batches of 3, 3, 1.
      yield* insertPayments(Array.from({ length: 6 }, (_, i) => ({ gateway: "gw-1", at: at(`2018-06-0${i + 1}T12:00:00Z`), amount: "1" })))
      yield* insertPayments([{ gateway: "gw-1", at: at("2018-06-14T23:59:59.999Z"), amount: "1" }])
      yield* insertPayments([{ gateway: "gw-1", at: at("2018-06-15T00:00:00Z"), amount: "2" }])
      yield* archived("old", "2018-01-01T00:00:00Z")
      yield* archived("new", "2025-01-01T00:00:00Z")
      // 90 days: keep from 2025-03-17 00:00 UTC.
      yield* blocked("b-old", "2025-03-16T23:59:59.999Z")
      yield* blocked("b-locked", "2025-01-01T00:00:00Z")
      yield* blocked("b-new", "2025-03-17T00:00:00Z")
      yield* alert("a-old", "2024-06-14T23:00:00Z")
      yield* alert("a-new", "2024-06-15T00:00:00Z")
      // 365 days: gw-1's r1 goes (r2 is newer), r2 is its newest and stays; gw-2's only one stays.
      yield* config("gw-1", "r1", "2024-01-01T00:00:00Z")
      yield* config("gw-1", "r2", "2024-02-01T00:00:00Z")
      yield* config("gw-2", "r1", "2023-01-01T00:00:00Z")
      yield* stats("gw-1", "2018-06-14T23:00:00Z")
      yield* stats("gw-1", "2018-06-15T00:00:00Z")
      // 30 days: keep from 2025-05-16; then the newest that fit in CAP bytes.
      yield* deadLetter("2025-05-15T00:00:00Z")
      for (let i = 0; i < 30; i++) yield* deadLetter(`2025-06-14T10:${String(i).padStart(2, "0")}:00Z`, 1000)
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO job_runs (job, started_at, status) VALUES ('rollup', ${at("2025-03-01T00:00:00Z")}, 'ok')`
    }))

  it.effect("a dry run counts and deletes nothing", () =>
    Effect.gen(function*() {
      const report = yield* runJobOnce("retention", { now, dryRun: true })
      expect(report.status, report.summary).toBe("ok")
      expect(report.summary).toContain("would delete payment_authorized rows with event_time before 2018-06-15 (7 row(s)")
      expect(report.summary).toContain("would delete gateway_config_history rows with received_at before 2024-06-15 (1 row(s)")
      expect(yield* count("payment_authorized")).toBe(8)
      expect(yield* count("dead_letters")).toBe(31)
    }))

  it.scoped("deletes exactly what is past each policy, skipping rows another transaction holds", () =>
    Effect.gen(function*() {
      const pool = yield* PgPool
      const before = yield* deleted("payment_authorized", "age")
      // Another session holds one expired row: the job must neither wait for it nor fail.
      const holder = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const client = await pool.connect()
          await client.query("BEGIN")
          await client.query("SELECT 1 FROM request_blocked WHERE event_id = 'b-locked' FOR UPDATE")
          return client
        }),
        (client) => Effect.promise(() => client.query("ROLLBACK").finally(() => client.release()))
      )
      const report = yield* runJobOnce("retention", { now })
      expect(report.status, report.summary).toBe("ok")
      yield* Effect.promise(() => holder.query("ROLLBACK"))

      expect(report.summary).toContain("deleted payment_authorized rows with event_time before 2018-06-15 (7 row(s)")
      expect((yield* deleted("payment_authorized", "age")) - before).toBe(7)
      expect(yield* count("payment_authorized")).toBe(1)
      expect(yield* count("payment_intents_archive")).toBe(1)
      expect(yield* count("request_blocked", "event_id IN ('b-new', 'b-locked')")).toBe(2)
      expect(yield* count("request_blocked")).toBe(2)
      expect(yield* count("solvency_alerts", "event_id = 'a-new'")).toBe(1)
      expect(yield* count("solvency_alerts")).toBe(1)
      expect(yield* count("gateway_config_history", "(gateway_id, revision) IN (('gw-1', 'r2'), ('gw-2', 'r1'))")).toBe(2)
      expect(yield* count("gateway_config_history")).toBe(2)
      expect(yield* count("gateway_stats_hourly")).toBe(1)
      expect(yield* count("job_runs", "started_at < '2025-01-01'")).toBe(0)
      expect(yield* count("job_runs", "job = 'retention'")).toBe(1)

      // The dead-letter cap: the old one went by age, then the oldest of the rest until the newest fit.
      const sql = yield* SqlClient.SqlClient
      const [kept] = yield* sql<{ n: number; bytes: number; newest: boolean; contiguous: boolean }>`
        SELECT count(*)::int AS n, sum(pg_column_size(d.*))::int AS bytes,
               max(id) = (SELECT max(id) FROM dead_letters) AS newest,
               max(id) - min(id) + 1 = count(*) AS contiguous FROM dead_letters d`
      expect(kept?.bytes).toBeLessThanOrEqual(CAP)
      expect(kept?.bytes).toBeGreaterThan(CAP - 1200)
      expect(kept?.n).toBeGreaterThan(5)
      expect(kept?.contiguous).toBe(true)
      expect(yield* count("dead_letters", "received_at < '2025-06-01'")).toBe(0)
      expect(yield* deleted("dead_letters", "size")).toBe(30 - (kept?.n ?? 0))
      expect((yield* Metric.value(M.deadLettersStoredBytes)).value).toBe(kept?.bytes)
      const batches = yield* Metric.value(Metric.tagged(M.retentionBatchSeconds, "table", "payment_authorized"))
      expect(batches.count).toBe(3)
    }))

  it.effect("the row that was held goes next run; a second run finds nothing else", () =>
    Effect.gen(function*() {
      const report = yield* runJobOnce("retention", { now })
      expect(report.summary).toContain("deleted request_blocked rows with event_time before 2025-03-17 (1 row(s)")
      expect(report.summary).toContain("deleted payment_authorized rows with event_time before 2018-06-15 (0 row(s)")
      expect(yield* count("request_blocked")).toBe(1)
    }))

  it.effect("forever keeps", () =>
    Effect.gen(function*() {
      const report = yield* runJobOnce("retention", { now: at("2040-01-01T00:00:00Z") }).pipe(
        Effect.provide(retention({ paymentsDays: Option.none(), rollupsDays: Option.none() }))
      )
      expect(report.status, report.summary).toBe("ok")
      expect(report.summary).toContain("payment_authorized: kept forever")
      expect(yield* count("payment_authorized")).toBe(1)
      expect(yield* count("gateway_stats_hourly")).toBe(1)
      expect(yield* count("request_blocked")).toBe(0)
    }))
})

describe("the dead-letter cap is shared fairly between gateways", () => {
  it("fairLevel: the smallest keep all, the largest are cut to one level; nothing when all fit", () => {
    expect(fairLevel([10, 20], 100)).toBeUndefined()
    expect(fairLevel([10, 1000], 100)).toBe(90)
    expect(fairLevel([10, 1000, 1000], 100)).toBe(45)
    expect(fairLevel([60, 60], 100)).toBe(50)
    // Whole bytes (it is compared with a bigint in SQL): 100 / 3 is not.
    expect(fairLevel([1000, 1000, 1000], 100)).toBe(33)
    expect(fairLevel([10, 1000, 1000, 1000], 101)).toBe(30)
  })
})

layer(retention({}).pipe(Layer.provideMerge(makeTestDatabase())), { excludeTestServices: true })("dead-letter cap per gateway", (it) => {
  it.effect("one gateway's flood of dead letters loses its own oldest; another vendor's few are all kept", () =>
    Effect.gen(function*() {
      // Within the age policy: only the size cap applies. 3 small letters of gw-quiet, then 60 of
      // gw-loud and 40 of gw-loud-2 (three gateways: the level is not a whole division).
      for (let i = 0; i < 3; i++) yield* deadLetter("2025-06-14T00:00:00Z", 200, "gw-quiet")
      for (let i = 0; i < 60; i++) yield* deadLetter("2025-06-14T01:00:00Z", 600, "gw-loud")
      for (let i = 0; i < 40; i++) yield* deadLetter("2025-06-14T01:00:00Z", 600, "gw-loud-2")
      const sql = yield* SqlClient.SqlClient
      const [before] = yield* sql<{ newest: string }>`SELECT max(id)::text AS newest FROM dead_letters WHERE gateway_id = 'gw-loud'`
      const report = yield* runJobOnce("retention", { now })
      expect(report.status, report.summary).toBe("ok")
      expect(yield* count("dead_letters", "gateway_id = 'gw-quiet'")).toBe(3)
      const [loud] = yield* sql<{ n: number; bytes: number; contiguous: boolean; newest: boolean }>`
        SELECT count(*)::int AS n, sum(pg_column_size(d.*))::int AS bytes, max(id) - min(id) + 1 = count(*) AS contiguous,
               max(id) = ${before?.newest}::bigint AS newest
          FROM dead_letters d WHERE gateway_id = 'gw-loud'`
      expect(loud?.n).toBeGreaterThan(5)
      expect(loud?.n).toBeLessThan(60)
      // gw-loud kept its newest, contiguous: its oldest went.
      expect(loud?.contiguous).toBe(true)
      expect(loud?.newest).toBe(true)
      const [all] = yield* sql<{ bytes: number }>`SELECT sum(pg_column_size(d.*))::int AS bytes FROM dead_letters d`
      expect(all?.bytes).toBeLessThanOrEqual(CAP)
      expect(yield* count("dead_letters", "gateway_id = 'gw-loud-2'")).toBeGreaterThan(5)
    }))
})
