/**
 * Losing a NATS node in `INGEST_DURABILITY=jetstream` mode, with the real server (`dist/main.mjs`):
 * a 3-node JetStream cluster holding the ingest stream with 3 replicas, a receiver connected to
 * all three, a client posting; the ingest stream's leader is SIGKILLed mid-load and not restarted.
 * Every event answered 202 — before, during and after the election — is committed, once. Requests
 * the receiver could not store while the stream had no leader are answered 503 (the client would
 * re-send them); they are not acknowledged and not counted. No timing is asserted.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { connect } from "nats"
import { createHash, randomBytes } from "node:crypto"
import pg from "pg"
import { createDatabase, databaseUrl } from "../support/database.js"
import { wireEvent } from "../support/ingestEvents.js"
import { startNatsCluster } from "../support/nats.js"
import { startTestServer } from "../support/server.js"

const PER_REQUEST = 10
const CONCURRENCY = 4
const ROUNDS_BEFORE = 30
const ROUNDS_AFTER = 30
const STREAM = "NODELOSS_INGEST"

describe("INGEST_DURABILITY=jetstream: a NATS node lost under load", () => {
  it.live("kill the ingest stream's leader of three (3 replicas) mid-load: every acknowledged event is committed once", () =>
    Effect.gen(function*() {
      const url = databaseUrl(yield* createDatabase("jsnodeloss"))
      const cluster = yield* startNatsCluster
      const server = yield* startTestServer({
        databaseUrl: url,
        env: {
          ROLES: "receiver",
          INGEST_DURABILITY: "jetstream",
          NATS_URL: cluster.urls,
          NATS_INGEST_STREAM: STREAM,
          NATS_INGEST_REPLICAS: "3",
          NATS_STREAM: "NODELOSS_LIVE",
          NATS_REPLICAS: "3"
        }
      })

      const key = `mpk_live_${randomBytes(32).toString("base64url")}`
      const query = <T extends pg.QueryResultRow>(text: string, values: ReadonlyArray<unknown> = []) =>
        Effect.promise(async () => {
          const client = new pg.Client({ connectionString: url })
          await client.connect()
          try {
            return (await client.query<T>(text, [...values])).rows
          } finally {
            await client.end()
          }
        })
      yield* query("INSERT INTO vendors (id, name) VALUES ('v1', 'Vendor')")
      yield* query("INSERT INTO gateways (id, vendor_id, name, ingest_key_hash) VALUES ('gw-nl', 'v1', 'gw', $1)", [
        createHash("sha256").update(key).digest("hex")
      ])

      const time = new Date().toISOString()
      const acknowledged: Array<string> = []
      const statuses = new Map<string, number>()
      let next = 0
      const post = async () => {
        const ids = Array.from({ length: PER_REQUEST }, () => `nl-${next++}`)
        let status = "error"
        try {
          const response = await fetch(`${server.url}/v1/ingest`, {
            method: "POST",
            headers: { authorization: `Bearer ${key}`, "content-type": "application/cloudevents-batch+json" },
            body: JSON.stringify(ids.map((id) => wireEvent("PaymentAuthorized", { id, time, gateway: "gw-nl" }))),
            signal: AbortSignal.timeout(15_000)
          })
          await response.arrayBuffer()
          status = String(response.status)
          if (response.status === 202) acknowledged.push(...ids)
        } catch {
          // No answer: not acknowledged.
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
      }
      const rounds = (n: number) =>
        Effect.promise(async () => {
          for (let round = 0; round < n; round++) await Promise.all(Array.from({ length: CONCURRENCY }, post))
        })

      yield* rounds(ROUNDS_BEFORE)
      const before = acknowledged.length
      expect(before).toBeGreaterThan(0)
      // The stream's leader, as the cluster reports it.
      const leaderOf = (servers: ReadonlyArray<string>) =>
        Effect.promise(async () => {
          const nc = await connect({ servers: [...servers] })
          try {
            return (await (await nc.jetstreamManager()).streams.info(STREAM)).cluster?.leader
          } finally {
            await nc.close()
          }
        })
      const leaderName = yield* leaderOf(cluster.nodes.map((n) => n.url))
      const leader = cluster.nodes.find((_, i) => `n${i + 1}` === leaderName)
      expect(leader, `leader ${leaderName}`).toBeDefined()
      // Mid-load: requests are in flight when the leader dies.
      const inFlight = Effect.runPromise(rounds(ROUNDS_AFTER))
      leader!.kill()
      yield* Effect.promise(() => inFlight)
      expect(acknowledged.length, "the receiver goes on acknowledging after the election").toBeGreaterThan(before)
      const newLeader = yield* leaderOf(cluster.nodes.filter((n) => n !== leader).map((n) => n.url))
      expect(newLeader, "another node leads the stream").not.toBe(leaderName)

      const committed = () =>
        query<{ n: number }>("SELECT count(DISTINCT id)::int AS n FROM telemetry_events WHERE id = ANY($1)", [acknowledged]).pipe(
          Effect.map((rows) => rows[0]?.n ?? 0)
        )
      yield* committed().pipe(
        Effect.repeat({ until: (n) => n === acknowledged.length, schedule: Schedule.spaced("250 millis") }),
        Effect.timeoutFail({
          duration: "60 seconds",
          onTimeout: () => new Error(`not every acknowledged event was committed\n--- receiver ---\n${server.output()}`)
        })
      )
      for (const [table, column] of [["telemetry_events", "id"], ["payment_authorized", "event_id"]] as const) {
        const twice = yield* query<{ id: string; n: number }>(
          `SELECT ${column} AS id, count(*)::int AS n FROM ${table} WHERE ${column} LIKE 'nl-%' GROUP BY 1 HAVING count(*) > 1`
        )
        expect(twice, table).toEqual([])
      }
      yield* Effect.logInfo(
        `NATS node loss: ${acknowledged.length} acknowledged (${before} before the kill); answers ${JSON.stringify(Object.fromEntries(statuses))}`
      )
    }).pipe(Effect.scoped), { timeout: 150_000 })
})
