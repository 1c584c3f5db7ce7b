/**
 * For tests that post to real receiver processes and then read PostgreSQL: a query function on a
 * database URL, a vendor + gateway with a fresh ingest key, and the "committed exactly once" check
 * over the raw log and the typed payments table.
 */
import { Effect, Schedule } from "effect"
import { expect } from "@effect/vitest"
import { createHash, randomBytes } from "node:crypto"
import pg from "pg"

export type Query = <T extends pg.QueryResultRow>(text: string, values?: ReadonlyArray<unknown>) => Effect.Effect<Array<T>>

/** Runs one statement on its own connection. */
export const queryOn = (url: string): Query => (text, values = []) =>
  Effect.promise(async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      return (await client.query(text, [...values])).rows
    } finally {
      await client.end()
    }
  })

/** Vendor `v1` and gateway `gatewayId`; returns the gateway's ingest key. */
export const gatewayWithKey = (query: Query, gatewayId: string) =>
  Effect.gen(function*() {
    const key = `mpk_live_${randomBytes(32).toString("base64url")}`
    yield* query("INSERT INTO vendors (id, name) VALUES ('v1', 'Vendor') ON CONFLICT DO NOTHING")
    yield* query("INSERT INTO gateways (id, vendor_id, name, ingest_key_hash) VALUES ($1, 'v1', 'gw', $2)", [
      gatewayId,
      createHash("sha256").update(key).digest("hex")
    ])
    return key
  })

/**
 * Waits until every id in `acknowledged` is in the raw log (failing with `explain()` after the
 * deadline), then checks no payment id starting with `prefix` is stored twice, in the raw log or
 * in `payment_authorized`.
 */
export const expectCommittedOnce = (
  query: Query,
  acknowledged: ReadonlyArray<string>,
  prefix: string,
  explain: () => string
) =>
  Effect.gen(function*() {
    const committed = query<{ n: number }>("SELECT count(DISTINCT id)::int AS n FROM telemetry_events WHERE id = ANY($1)", [
      acknowledged
    ]).pipe(Effect.map((rows) => rows[0]?.n ?? 0))
    yield* committed.pipe(
      Effect.repeat({ until: (n) => n === acknowledged.length, schedule: Schedule.spaced("250 millis") }),
      Effect.timeoutFail({
        duration: "60 seconds",
        onTimeout: () => new Error(`not every acknowledged event was committed\n${explain()}`)
      })
    )
    for (const [table, column] of [["telemetry_events", "id"], ["payment_authorized", "event_id"]] as const) {
      const twice = yield* query<{ id: string; n: number }>(
        `SELECT ${column} AS id, count(*)::int AS n FROM ${table} WHERE ${column} LIKE $1 GROUP BY 1 HAVING count(*) > 1`,
        [`${prefix}%`]
      )
      expect(twice, table).toEqual([])
    }
  })
