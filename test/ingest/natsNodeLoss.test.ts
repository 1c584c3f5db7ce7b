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
import { createDatabase, databaseUrl } from "../support/database.js"
import { wireEvent } from "../support/ingestEvents.js"
import { expectCommittedOnce, gatewayWithKey, queryOn } from "../support/ingestProcess.js"
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

      const query = queryOn(url)
      const key = yield* gatewayWithKey(query, "gw-nl")

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
      // The stream's leader as the cluster reports it (other than `not`); asked again while an
      // election runs (the request times out, or no new leader is named yet), for up to a minute.
      const leaderOf = (servers: ReadonlyArray<string>, not?: string) =>
        Effect.tryPromise(async () => {
          const nc = await connect({ servers: [...servers] })
          try {
            return (await (await nc.jetstreamManager()).streams.info(STREAM)).cluster?.leader
          } finally {
            await nc.close()
          }
        }).pipe(
          Effect.filterOrFail((leader): leader is string => leader !== undefined && leader !== "" && leader !== not),
          Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 120 }),
          Effect.orDie
        )
      const leaderName = yield* leaderOf(cluster.nodes.map((n) => n.url))
      const leader = cluster.nodes.find((_, i) => `n${i + 1}` === leaderName)
      expect(leader, `leader ${leaderName}`).toBeDefined()
      // Mid-load: requests are in flight when the leader dies.
      const inFlight = Effect.runPromise(rounds(ROUNDS_AFTER))
      leader!.kill()
      yield* Effect.promise(() => inFlight)
      expect(acknowledged.length, "the receiver goes on acknowledging after the election").toBeGreaterThan(before)
      const newLeader = yield* leaderOf(cluster.nodes.filter((n) => n !== leader).map((n) => n.url), leaderName)
      // (No other leader within a minute fails the test in `leaderOf`.) The new one is a survivor.
      expect(cluster.nodes.flatMap((n, i) => (n === leader ? [] : [`n${i + 1}`]))).toContain(newLeader)

      yield* expectCommittedOnce(query, acknowledged, "nl-", () => `--- receiver ---\n${server.output()}`)
      yield* Effect.logInfo(
        `NATS node loss: ${acknowledged.length} acknowledged (${before} before the kill); answers ${JSON.stringify(Object.fromEntries(statuses))}`
      )
    }).pipe(Effect.scoped), { timeout: 150_000 })
})
