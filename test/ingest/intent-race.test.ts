/**
 * Two receivers write events of the same payment intents at the same time (two stores, two
 * pools, one database). Whatever the interleaving, each event is recorded once and each intent
 * ends as the fold of all its events: the optimistic guard (IntentStorePg.ts) makes a writer that
 * read an intent before the other changed it read and fold again instead of overwriting. Without
 * the guard this test finds lost updates (an intent's `created_at` not its earliest event).
 */
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Random, Redacted, Schedule } from "effect"
import pg from "pg"
import { migrate } from "../../src/db/Migrator.js"
import { EventStore } from "../../src/ingest/EventStore.js"
import { EventStorePg } from "../../src/ingest/EventStorePg.js"
import type { IngestEvent } from "../../src/ingest/IngestEvent.js"
import { createDatabase, databaseUrl } from "../support/database.js"
import { wireIntent } from "../support/ingestEvents.js"
import { toIngestEvent } from "./support.js"

/** A plain connection of its own, closed with the scope. */
const clientOn = (url: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      return client
    }),
    (client) => Effect.promise(() => client.end())
  )

const INTENTS = 10
const BATCHES = 100
const BASE = Date.parse("2025-06-01T12:00:00Z")

describe("payment intents written by two receivers at once", () => {
  it.scopedLive("every event recorded once; every intent is the fold of all its events", () =>
    Effect.gen(function*() {
      const url = databaseUrl(yield* createDatabase("irace"))
      const pool = () => PgClient.layer({ url: Redacted.make(url), maxConnections: 2 })
      yield* Effect.provide(migrate(), pool())
      const stores = [
        Context.get(yield* Layer.build(EventStorePg.pipe(Layer.provide(pool()))), EventStore),
        Context.get(yield* Layer.build(EventStorePg.pipe(Layer.provide(pool()))), EventStore)
      ]
      const times = new Map<string, Array<number>>()
      let n = 0
      const event = Effect.gen(function*() {
        n += 1
        const intent = `race-${yield* Random.nextIntBetween(0, INTENTS)}`
        const time = BASE + (yield* Random.nextIntBetween(0, 600_000))
        times.set(intent, [...(times.get(intent) ?? []), time])
        const status = (yield* Random.nextBoolean) ? "pending" : "submitted"
        return toIngestEvent(wireIntent({ id: `race-${n}`, time: new Date(time).toISOString() }, intent, status))
      })
      const writer = (store: EventStore["Type"]) =>
        Effect.forEach(Array.from({ length: BATCHES }), () =>
          Effect.gen(function*() {
            const batch: Array<IngestEvent> = []
            for (let i = yield* Random.nextIntBetween(1, 9); i > 0; i--) batch.push(yield* event)
            // As the route writer does: a failure ("kept changing") is tried again.
            yield* store.write("PaymentIntent", batch).pipe(
              Effect.retry(Schedule.exponential("20 millis").pipe(Schedule.upTo("20 seconds")))
            )
          }), { discard: true })
      yield* Effect.all(stores.map(writer), { concurrency: "unbounded", discard: true })
      // One settled event per intent, later than all the others.
      for (let i = 0; i < INTENTS; i++) {
        const time = BASE + 3_600_000
        times.set(`race-${i}`, [...(times.get(`race-${i}`) ?? []), time])
        yield* stores[0]!.write("PaymentIntent", [
          toIngestEvent(wireIntent({ id: `race-final-${i}`, time: new Date(time).toISOString() }, `race-${i}`, "settled"))
        ])
      }

      const db = yield* clientOn(url)
      const intents = yield* Effect.promise(() =>
        db.query<{ intent_id: string; status: string; created_at: Date; last_event_time: Date }>(
          "SELECT intent_id, status, created_at, last_event_time FROM payment_intents ORDER BY intent_id"
        )
      )
      expect(intents.rows.map((row) => ({
        intent: row.intent_id,
        status: row.status,
        created_at: row.created_at.getTime(),
        last_event_time: row.last_event_time.getTime()
      }))).toEqual([...times.keys()].sort().map((intent) => ({
        intent,
        status: "settled",
        created_at: Math.min(...times.get(intent)!),
        last_event_time: Math.max(...times.get(intent)!)
      })))
      const transitions = yield* Effect.promise(() =>
        db.query<{ n: number; distinct: number }>(
          "SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS distinct FROM payment_intent_transitions"
        )
      )
      expect(transitions.rows[0]).toEqual({ n: n + INTENTS, distinct: n + INTENTS })
    }), 120_000)

  it.scopedLive("an intent read as absent that another receiver inserts meanwhile is read again, not overwritten (first terminal wins)", () =>
    Effect.gen(function*() {
      const url = databaseUrl(yield* createDatabase("irace2"))
      const pool = () => PgClient.layer({ url: Redacted.make(url), maxConnections: 2 })
      yield* Effect.provide(migrate(), pool())
      const store = Context.get(yield* Layer.build(EventStorePg.pipe(Layer.provide(pool()))), EventStore)
      const other = yield* clientOn(url)
      // The other receiver's transaction: "settled" inserted, not committed yet.
      yield* Effect.promise(() => other.query("BEGIN"))
      yield* Effect.promise(() =>
        other.query(`INSERT INTO payment_intents (gateway_id, intent_id, agent_id, status, status_rank, amount, asset, network,
          tx_hash, created_at, updated_at, last_event_time, received_at)
          VALUES ('gw-eu-1', 'contested', 'agent-1', 'settled', 2, 1, 'USDC', 'base', '0xsettled',
                  '2025-06-01T12:00:00Z', '2025-06-01T12:00:00Z', '2025-06-01T12:00:00Z', now())`)
      )
      // This receiver reads the intent as absent and writes "failed": its insert waits on the other's key.
      const failed = toIngestEvent(wireIntent({ id: "contested-failed", time: "2025-06-01T12:00:01Z" }, "contested", "failed", {
        failure_reason: "timeout"
      }))
      const writing = yield* Effect.fork(store.write("PaymentIntent", [failed]))
      yield* Effect.sleep("500 millis")
      yield* Effect.promise(() => other.query("COMMIT"))
      yield* writing.await
      const [row] = (yield* Effect.promise(() =>
        other.query<{ status: string; tx_hash: string | null }>("SELECT status, tx_hash FROM payment_intents WHERE intent_id = 'contested'")
      )).rows
      expect(row).toEqual({ status: "settled", tx_hash: "0xsettled" })
      const [transition] = (yield* Effect.promise(() =>
        other.query<{ applied: boolean }>("SELECT applied FROM payment_intent_transitions WHERE event_id = 'contested-failed'")
      )).rows
      expect(transition).toEqual({ applied: false })
    }), 60_000)
})
