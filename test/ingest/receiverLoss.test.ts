/**
 * Losing a receiver in `INGEST_DURABILITY=jetstream` mode, with the real server (`dist/main.mjs`):
 * two receivers on one database and one nats-server, a client posting to both for a few seconds;
 * receiver A is SIGKILLed mid-load and never restarted. Every event either receiver answered 202
 * for — A's included, acknowledged or held by A's writers when it died — is committed (by B), and
 * none twice. No timing is asserted: the client stops after a fixed number of rounds.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createDatabase, databaseUrl } from "../support/database.js"
import { wireEvent } from "../support/ingestEvents.js"
import { expectCommittedOnce, gatewayWithKey, queryOn } from "../support/ingestProcess.js"
import { startNats } from "../support/nats.js"
import { startTestServer } from "../support/server.js"

const PER_REQUEST = 10
const CONCURRENCY = 4
/** Rounds of CONCURRENCY requests before and after the kill. */
const ROUNDS_BEFORE = 40
const ROUNDS_AFTER = 20

describe("INGEST_DURABILITY=jetstream: a receiver lost under load", () => {
  it.live("kill -9 receiver A mid-load, never restart it: every event A or B acknowledged is committed once", () =>
    Effect.gen(function*() {
      const url = databaseUrl(yield* createDatabase("jsloss"))
      const nats = yield* startNats
      const env = {
        ROLES: "receiver",
        INGEST_DURABILITY: "jetstream",
        NATS_URL: nats.url,
        NATS_INGEST_STREAM: "LOSS_INGEST",
        NATS_STREAM: "LOSS_LIVE",
        // A's unacknowledged deliveries go to B after this.
        NATS_INGEST_ACK_WAIT: "2 seconds"
      }
      const [a, b] = yield* Effect.all([
        startTestServer({ databaseUrl: url, env }),
        startTestServer({ databaseUrl: url, env })
      ], { concurrency: 2 })

      const query = queryOn(url)
      const key = yield* gatewayWithKey(query, "gw-loss")

      const time = new Date().toISOString()
      const acknowledged: Array<string> = []
      const byA: Array<string> = []
      let refused = 0
      let next = 0
      /** One request; its ids count as acknowledged only on a 202. */
      const post = async (base: string, fromA: boolean) => {
        const ids = Array.from({ length: PER_REQUEST }, () => `loss-${next++}`)
        try {
          const response = await fetch(`${base}/v1/ingest`, {
            method: "POST",
            headers: { authorization: `Bearer ${key}`, "content-type": "application/cloudevents-batch+json" },
            body: JSON.stringify(ids.map((id) => wireEvent("PaymentAuthorized", { id, time, gateway: "gw-loss" }))),
            signal: AbortSignal.timeout(10_000)
          })
          await response.arrayBuffer()
          if (response.status === 202) {
            acknowledged.push(...ids)
            if (fromA) byA.push(...ids)
          } else refused += 1
        } catch {
          refused += 1 // A died with the request in flight: never acknowledged.
        }
      }
      yield* Effect.promise(async () => {
        for (let round = 0; round < ROUNDS_BEFORE; round++) {
          await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => (i % 2 === 0 ? post(a.url, true) : post(b.url, false))))
        }
        // Mid-load: A's requests are still in flight when it dies.
        const inFlight = Array.from({ length: CONCURRENCY }, (_, i) => (i % 2 === 0 ? post(a.url, true) : post(b.url, false)))
        process.kill(a.pid, "SIGKILL")
        await Promise.all(inFlight)
        for (let round = 0; round < ROUNDS_AFTER; round++) {
          await Promise.all(Array.from({ length: CONCURRENCY }, () => post(b.url, false)))
        }
      })
      expect(byA.length).toBeGreaterThan(0)

      // Everything acknowledged reaches the database (B takes over A's deliveries after the ack wait).
      yield* expectCommittedOnce(query, acknowledged, "loss-", () => `--- B ---\n${b.output()}`)
      const typed = yield* query<{ n: number }>("SELECT count(*)::int AS n FROM payment_authorized WHERE event_id = ANY($1)", [byA])
      expect(typed[0]?.n).toBe(byA.length)
      // How much of A's share B took over as redeliveries (reported, not asserted: it depends on timing).
      const metrics = yield* Effect.promise(() => fetch(`${b.url}/metrics`).then((r) => r.text()))
      const redelivered = /ingest_stream_redeliveries_total\S* (\d+)/.exec(metrics)?.[1] ?? "?"
      yield* Effect.logInfo(
        `receiver loss: ${acknowledged.length} acknowledged (${byA.length} by A), ${refused} requests not acknowledged, ${redelivered} redeliveries at B`
      )
    }).pipe(Effect.scoped), { timeout: 120_000 })
})
