/**
 * Poison input against the real server process: events built to break a later stage (index rows
 * too large, nesting deeper than `JSON.stringify` or PostgreSQL take, huge strings and numbers, an
 * event the database itself refuses). For each one, with and without `Prefer: wait=commit`:
 * the poison gets an answer (never a hang, never a 5xx), is rejected or dead-lettered with a
 * reason, and another gateway's event posted right after commits. Then the same after a restart,
 * including a poison event that was only in the journal when the server was killed.
 *
 * "The database refuses it" is made real with a trigger that raises SQLSTATE 54000 (what an
 * oversized index row raises) for one agent id: whatever the next unforeseen refusal is, it
 * takes the same path.
 */
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Context, Effect, Layer, Redacted, Schedule, Scope, Exit } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { hashIngestKey } from "../../src/identity/IngestKey.js"
import { makeTestDatabase, TestDatabaseInfo } from "../support/database.js"
import { wireEvent, type WireEvent } from "../support/ingestEvents.js"
import { startTestServer, type TestServer } from "../support/server.js"
import { BATCH, ingest, newKey, nextId, type Reply, recently, requestWithin, STRUCTURED } from "./support.js"

const KEY_A = newKey()
const KEY_B = newKey()

class Fixture extends Context.Tag("Test/PoisonFixture")<Fixture, {
  readonly databaseUrl: string
  readonly dataDir: string
}>() {}

const FixtureLive = Layer.scoped(
  Fixture,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO vendors (id, name) VALUES ('v-poison', 'Poison vendor')`
    for (const [id, key] of [["gw-a", KEY_A], ["gw-b", KEY_B]] as const) {
      yield* sql`INSERT INTO gateways (id, vendor_id, name, ingest_key_hash, ingest_key_prefix)
                 VALUES (${id}, 'v-poison', ${id}, ${hashIngestKey(key)}, ${key.slice(0, 12)})`
    }
    // Any refusal the validation did not foresee: here, one agent id the database will not take.
    yield* sql.unsafe(`
      CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.agent_id = 'agent-poison' THEN
          RAISE EXCEPTION 'index row size 3016 exceeds btree version 4 maximum 2704' USING ERRCODE = '54000';
        END IF;
        RETURN NEW;
      END $$`)
    yield* sql.unsafe(`CREATE TRIGGER refuse_poison BEFORE INSERT ON payment_authorized FOR EACH ROW EXECUTE FUNCTION refuse_poison()`)
    const dataDir = yield* Effect.acquireRelease(
      Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "machpay-poison-"))),
      (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
    )
    return { databaseUrl: Redacted.value((yield* TestDatabaseInfo).url), dataDir }
  }).pipe(Effect.orDie)
).pipe(Layer.provideMerge(makeTestDatabase()))

const serverOn = (fixture: Context.Tag.Service<Fixture>) =>
  startTestServer({
    databaseUrl: fixture.databaseUrl,
    dataDir: fixture.dataDir,
    env: { INGEST_MAX_BODY_BYTES: String(2 * 1024 * 1024), INGEST_MAX_DECOMPRESSED_BYTES: String(8 * 1024 * 1024) }
  })

/** 1,000 different CJK characters (3 KB in UTF-8; varied, so index compression cannot shrink it). */
const CJK = Array.from({ length: 1000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20000))).join("")
const deep = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`
const deepArray = (levels: number) => `${"[".repeat(levels)}"\\u0000"${"]".repeat(levels)}`

interface Poison {
  readonly name: string
  /** The request body (text: nesting deeper than JSON.stringify can make is spliced in). */
  readonly body: (id: string) => string
}

const paymentA = (id: string, data: Readonly<Record<string, unknown>> = {}, extra: Readonly<Record<string, unknown>> = {}): WireEvent => ({
  ...wireEvent("PaymentAuthorized", { id, time: recently(), gateway: "gw-a" }, data),
  ...extra
})

const POISONS: ReadonlyArray<Poison> = [
  { name: "source of 1,000 CJK characters (3 KB)", body: (id) => JSON.stringify(paymentA(id, {}, { source: `machpay://gateway/gw-a/${CJK}` })) },
  { name: "id of 1,000 CJK characters (3 KB)", body: (id) => JSON.stringify(paymentA(`${id}-${CJK}`)) },
  { name: "data nested 20,000 deep", body: (id) => JSON.stringify(paymentA(id, { extra: "@@DEEP@@" })).replace('"@@DEEP@@"', deep(20_000)) },
  {
    name: "extension nested 20,000 deep",
    body: (id) => JSON.stringify(paymentA(id, {}, { deepext: "@@DEEP@@" })).replace('"@@DEEP@@"', deep(20_000))
  },
  {
    name: "unknown type, data nested 20,000 deep with a NUL at the bottom",
    body: (id) =>
      JSON.stringify({ specversion: "1.0", id, source: "machpay://gateway/gw-a", type: "com.example.Odd", data: "@@DEEP@@" })
        .replace('"@@DEEP@@"', deepArray(20_000))
  },
  {
    // A known type's data must be an object: the schema's message once quoted the value, and
    // formatting 2,500 levels overflowed the stack (an empty 500 for the whole request).
    name: "a known type's data is an array nested 2,500 deep",
    body: (id) => JSON.stringify({ ...paymentA(id), data: "@@DEEP@@" }).replace('"@@DEEP@@"', `${"[".repeat(2500)}${"]".repeat(2500)}`)
  },
  {
    // ... and quoting a wide value made a reason of 1 MB (in the answer and the dead letter).
    name: "a known type's data is an array of 15,000 objects",
    body: (id) => JSON.stringify({ ...paymentA(id), data: Array.from({ length: 15_000 }, (_, i) => ({ [`k${i}`]: "v".repeat(50) })) })
  },
  { name: "a 100 KB string", body: (id) => JSON.stringify(paymentA(id, { route: "x".repeat(100_000) })) },
  {
    name: "a 100 KB string in an unknown type",
    body: (id) => JSON.stringify({ specversion: "1.0", id, source: "machpay://gateway/gw-a", type: "com.example.Big", data: { blob: "y".repeat(100_000) } })
  },
  { name: "a 200-digit amount", body: (id) => JSON.stringify(paymentA(id, { amount: "9".repeat(200) })) },
  { name: "an event the database refuses (SQLSTATE 54000)", body: (id) => JSON.stringify(paymentA(id, { agent_id: "agent-poison" })) }
]

const post = (server: TestServer, body: string, key: string, wait: boolean) =>
  requestWithin(30_000, server, "/v1/ingest", {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": STRUCTURED, ...(wait ? { prefer: "wait=commit" } : {}) },
    body
  })

/** Gateway B's payment, waiting for the commit: it must be stored whatever A sent before. */
const otherGatewayCommits = (server: TestServer) =>
  Effect.gen(function*() {
    const id = nextId("b")
    const reply = yield* post(server, JSON.stringify(wireEvent("PaymentAuthorized", { id, time: recently(), gateway: "gw-b" })), KEY_B, true)
    expect(reply.status, reply.text).toBe(200)
    expect(JSON.parse(reply.text)).toMatchObject({ accepted: 1, committed: true })
    return id
  })

const rejectedOrDeadLettered = (reply: Reply, id: string, wait: boolean) =>
  Effect.gen(function*() {
    expect(reply.status, `${reply.status} ${reply.text.slice(0, 300)}`).toBeGreaterThanOrEqual(200)
    expect(reply.status, `${reply.status} ${reply.text.slice(0, 300)}`).toBeLessThan(500)
    const body = JSON.parse(reply.text) as {
      results?: Array<{ status: string; reason?: string; field?: string }>
      message?: string
      committed?: boolean
    }
    const result = body.results?.[0]
    if (reply.status >= 400 && result === undefined) {
      // Refused whole (e.g. 413): says why.
      expect(body.message ?? "").not.toBe("")
      return
    }
    if (result?.status === "rejected") {
      // The request's only event was refused: nothing in it can succeed on a re-send.
      expect(reply.status, reply.text.slice(0, 300)).toBe(400)
      expect(result.reason ?? "").not.toBe("")
      expect(result.reason?.length ?? 0, "a reason is short, whatever was sent").toBeLessThanOrEqual(1024)
      expect(result.field ?? "").not.toBe("")
      // `committed` says whether the answer waited for the database: only for a refusal by the
      // database itself, never for one at the door (the schema, or admission's depth and size).
      expect(body.committed, reply.text.slice(0, 300)).toBe(/the database refused/.test(result.reason ?? ""))
      return
    }
    // Acknowledged: then either stored (the raw log has every stored event) or, when the database
    // refused it later, dead-lettered with the database's reason.
    const sql = yield* SqlClient.SqlClient
    const fate = yield* sql<{ where: string; reason: string | null }>`
      SELECT 'stored' AS where, NULL AS reason FROM telemetry_events WHERE id LIKE ${`${id}%`}
      UNION ALL SELECT 'dead', reason FROM dead_letters WHERE event_id LIKE ${`${id}%`}`.pipe(
      Effect.filterOrFail((rows) => rows.length > 0, () => "neither stored nor dead-lettered yet"),
      Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("15 seconds"))),
      Effect.orDie
    )
    if (fate[0]?.where === "dead") {
      expect(wait, "a refused event was answered 'accepted' to wait=commit").toBe(false)
      expect(fate[0]?.reason).toMatch(/SQLSTATE/)
    }
  })

const storedPayments = (ids: ReadonlyArray<string>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: number }>`SELECT count(*)::int AS n FROM payment_authorized WHERE event_id IN ${sql.in(ids)}`.pipe(
      Effect.map((rows) => rows[0]?.n ?? 0)
    ))

layer(FixtureLive, { excludeTestServices: true, timeout: "240 seconds" })("poison input (real server)", (it) => {
  it.scoped("each poison is answered and isolated; the other gateway's events keep committing, before and after a restart", () =>
    Effect.gen(function*() {
      const fixture = yield* Fixture
      const committed: Array<string> = []
      const runCorpus = (server: TestServer) =>
        Effect.gen(function*() {
          for (const poison of POISONS) {
            for (const wait of [false, true]) {
              const id = nextId("poison")
              const reply = yield* post(server, poison.body(id), KEY_A, wait)
              expect(reply.status, `${poison.name} (wait=${wait}) got no answer: ${reply.text}`).not.toBe(0)
              yield* rejectedOrDeadLettered(reply, id, wait).pipe(
                Effect.catchAllDefect((defect) => Effect.die(new Error(`${poison.name} (wait=${wait}): ${String(defect)}`)))
              )
              committed.push(yield* otherGatewayCommits(server))
            }
          }
        })

      const first = yield* Scope.make()
      const server = yield* serverOn(fixture).pipe(Scope.extend(first))
      yield* runCorpus(server)
      // A batch mixing poison and good events: the good ones commit, the poison is named.
      const good = [nextId("mix"), nextId("mix")]
      const poisonId = nextId("mix-poison")
      const mixed = yield* requestWithin(30_000, server, "/v1/ingest", {
        method: "POST",
        headers: { authorization: `Bearer ${KEY_A}`, "content-type": BATCH, prefer: "wait=commit" },
        body: JSON.stringify([
          paymentA(good[0]!),
          paymentA(poisonId, { agent_id: "agent-poison" }),
          { ...paymentA(nextId("mix-deep")), data: "@@DEEP@@" },
          paymentA(good[1]!)
        ]).replace('"@@DEEP@@"', `${"[".repeat(2500)}${"]".repeat(2500)}`)
      })
      expect(mixed.status, mixed.text).toBe(200)
      expect(JSON.parse(mixed.text)).toMatchObject({ accepted: 2, rejected: 2 })
      expect(yield* storedPayments(good)).toBe(2)
      // Refusals are per event: the pipeline itself is healthy.
      const health = yield* requestWithin(5_000, server, "/health", {})
      expect(JSON.parse(health.text).components?.ingest).toEqual({ status: "ok" })
      yield* Scope.close(first, Exit.void)

      // A poison event only in the journal when the server dies: held back by a lock, then SIGKILL.
      const second = yield* Scope.make()
      const server2 = yield* serverOn(fixture).pipe(Scope.extend(second))
      const sql = yield* SqlClient.SqlClient
      const journaledPoison = nextId("journaled-poison")
      const journaledGood = nextId("journaled-good")
      yield* Effect.scoped(sql.withTransaction(Effect.gen(function*() {
        yield* sql`LOCK TABLE payment_authorized IN ACCESS EXCLUSIVE MODE`
        const reply = yield* ingest(server2, JSON.stringify([
          paymentA(journaledPoison, { agent_id: "agent-poison" }),
          paymentA(journaledGood)
        ]), { "content-type": BATCH }, KEY_A)
        expect(reply.status, reply.text).toBe(202)
        process.kill(server2.pid, "SIGKILL")
      })))
      yield* Scope.close(second, Exit.void)

      const third = yield* Scope.make()
      const server3 = yield* serverOn(fixture).pipe(Scope.extend(third))
      // Replayed: the good event is stored, the poison dead-lettered — not replayed forever.
      yield* storedPayments([journaledGood]).pipe(
        Effect.filterOrFail((n) => n === 1, () => "journaled event not stored yet"),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("20 seconds"))),
        Effect.orDie
      )
      const dead = yield* sql<{ reason: string }>`SELECT reason FROM dead_letters WHERE event_id = ${journaledPoison}`.pipe(
        Effect.filterOrFail((rows) => rows.length > 0, () => "journaled poison not dead-lettered yet"),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("20 seconds"))),
        Effect.orDie
      )
      expect(dead[0]?.reason).toContain("54000")
      yield* runCorpus(server3)
      yield* Scope.close(third, Exit.void)

      expect(yield* storedPayments(committed)).toBe(committed.length)
    }), 200_000)
})
