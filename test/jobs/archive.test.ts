/**
 * The archive moves exactly the eligible payment intents (terminal, untouched for a year), in
 * batches, with their transitions folded into `history`, and exports them as gzip NDJSON.
 */
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { runJobOnce } from "../../src/jobs/Jobs.js"
import { at, jobsTestDatabase, runnerLayer } from "./support.js"

const now = at("2025-06-01T00:00:00Z") // cutoff with 365 days: 2024-06-01T00:00:00Z

const RANK = { pending: 0, submitted: 1, settled: 2, failed: 2, expired: 2 } as const

const intent = (id: string, status: keyof typeof RANK, updated: string, lastEvent: string = updated, gateway = "gw-1") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO payment_intents ${
      sql.insert({
        intent_id: id,
        gateway_id: gateway,
        agent_id: "agent-1",
        status,
        status_rank: RANK[status],
        amount: "1.000000000000000001",
        asset: "USDC",
        network: "base",
        created_at: at("2023-12-01T00:00:00Z"),
        updated_at: at(updated),
        last_event_time: at(lastEvent),
        received_at: at(updated)
      })
    }`)

const transition = (intentId: string, eventId: string, eventTime: string, to: string, applied = true) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO payment_intent_transitions (gateway_id, intent_id, source, event_id, event_time, received_at,
        to_status, applied) VALUES ('gw-1', ${intentId}, 'gw/gw-1', ${eventId}, ${at(eventTime)}, ${at(eventTime)}, ${to}, ${applied})`)

const ids = (table: "payment_intents" | "payment_intents_archive") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql<{ intent_id: string }>`SELECT intent_id FROM ${sql(table)} ORDER BY 1`, (rows) => rows.map((r) => r.intent_id)))

const ELIGIBLE = ["i1", "i2", "i7", "i8", "i9", "i10", "i11"].sort()

layer(jobsTestDatabase(), { excludeTestServices: true })("archive", (it) => {
  it.effect("setup", () =>
    Effect.gen(function*() {
      yield* intent("i1", "settled", "2024-05-01T10:00:00Z")
      yield* transition("i1", "e1", "2024-04-30T10:00:00Z", "pending")
      yield* transition("i1", "e3", "2024-05-01T10:00:00Z", "settled")
      yield* transition("i1", "e2", "2024-04-30T11:00:00Z", "submitted")
      yield* transition("i1", "e4", "2024-05-01T09:00:00Z", "submitted", false)
      yield* intent("i2", "failed", "2024-05-31T23:59:59.999Z")
      yield* intent("i3", "expired", "2024-06-01T00:00:00Z") // exactly at the cutoff: kept
      yield* transition("i3", "e5", "2024-06-01T00:00:00Z", "expired")
      yield* intent("i4", "pending", "2023-01-01T00:00:00Z") // not terminal
      yield* intent("i5", "submitted", "2023-01-01T00:00:00Z")
      yield* intent("i6", "settled", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z") // a late event since
      // The same intent id on another gateway is another intent (not terminal: stays).
      yield* intent("i1", "submitted", "2023-01-01T00:00:00Z", "2023-01-01T00:00:00Z", "gw-2")
      yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql`INSERT INTO payment_intent_transitions (gateway_id, intent_id, source, event_id, event_time, received_at,
            to_status, applied) VALUES ('gw-2', 'i1', 'gw/gw-2', 'x1', now(), now(), 'submitted', true)`)
      for (const id of ["i7", "i8", "i9", "i10", "i11"]) yield* intent(id, "settled", "2023-06-01T00:00:00Z")
      // Archived once before, revived by a late event, now terminal and old again.
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO payment_intents_archive (intent_id, gateway_id, agent_id, status, status_rank, amount, asset,
        network, created_at, updated_at, last_event_time, received_at, history)
        VALUES ('i2', 'gw-1', 'agent-1', 'settled', 2, 1, 'USDC', 'base', now(), now(), now(), now(), '[{"event_id":"old"}]')`
    }))

  it.effect("a dry run counts the eligible intents and moves nothing", () =>
    Effect.gen(function*() {
      const report = yield* runJobOnce("archive", { now, dryRun: true }).pipe(
        Effect.provide(runnerLayer({ archiveBatchSize: 3 }))
      )
      expect(report.summary).toContain("would archive terminal payment intents last updated before 2024-06-01T00:00Z (7 intent(s)")
      expect(report.summary).toContain("3 batch(es) of up to 3")
      expect((yield* ids("payment_intents")).length).toBe(12)
    }))

  it.effect("moves exactly the eligible intents in batches, folds transitions, exports gzip NDJSON", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const dir = yield* Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "machpay-archive-")))
      const report = yield* runJobOnce("archive", { now }).pipe(
        Effect.provide(runnerLayer({ archiveBatchSize: 3, archiveDir: Option.some(dir) }))
      )
      expect(report.status, report.summary).toBe("ok")
      expect(report.actions.filter((a) => a.what.startsWith("archived")).map((a) => a.rows)).toEqual([3, 3, 1])
      expect(yield* ids("payment_intents")).toEqual(["i1", "i3", "i4", "i5", "i6"])
      const kept = yield* sql<{ gateway_id: string }>`SELECT gateway_id FROM payment_intents WHERE intent_id = 'i1'`
      expect(kept).toEqual([{ gateway_id: "gw-2" }])
      expect(yield* ids("payment_intents_archive")).toEqual(ELIGIBLE)

      const [i1] = yield* sql<{ history: ReadonlyArray<{ event_id: string; applied: boolean }> }>`
        SELECT history FROM payment_intents_archive WHERE intent_id = 'i1'`
      expect(i1?.history.map((h) => h.event_id)).toEqual(["e1", "e2", "e4", "e3"])
      expect(i1?.history[2]?.applied).toBe(false)
      const [i2] = yield* sql<{ history: ReadonlyArray<{ event_id: string }>; status: string }>`
        SELECT history, status FROM payment_intents_archive WHERE intent_id = 'i2'`
      expect(i2).toEqual({ history: [{ event_id: "old" }], status: "failed" })
      const left = yield* sql<{ key: string }>`
        SELECT DISTINCT gateway_id || '/' || intent_id AS key FROM payment_intent_transitions ORDER BY 1`
      expect(left).toEqual([{ key: "gw-1/i3" }, { key: "gw-2/i1" }])

      const files = (yield* Effect.promise(() => fs.readdir(dir))).sort()
      expect(files.length).toBe(3)
      expect(files.every((f) => /^payment_intents-20250601T000000Z-[0-9a-f]{6}-000[1-3]\.ndjson\.gz$/.test(f))).toBe(true)
      const lines = (yield* Effect.promise(() => Promise.all(files.map((f) => fs.readFile(path.join(dir, f))))))
        .flatMap((gz) => zlib.gunzipSync(gz).toString("utf8").trim().split("\n"))
        .map((line) => JSON.parse(line) as { intent_id: string; amount: unknown; history: ReadonlyArray<unknown> })
      expect(lines.map((l) => l.intent_id).sort()).toEqual(ELIGIBLE)
      expect(lines.every((l) => l.amount === "1.000000000000000001")).toBe(true)
      expect(lines.find((l) => l.intent_id === "i1")?.history.length).toBe(4)
      yield* Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
    }))

  it.effect("a second run finds nothing to do", () =>
    Effect.gen(function*() {
      const report = yield* runJobOnce("archive", { now })
      expect(report.status).toBe("ok")
      expect(report.summary).toContain("no terminal payment intent last updated before 2024-06-01T00:00Z")
      expect((yield* ids("payment_intents_archive")).length).toBe(7)
    }))
})
