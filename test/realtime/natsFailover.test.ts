/**
 * Losing a NATS node under load: a 3-node cluster, the stream with 3 replicas, a publisher and
 * an api "node" with a client connected; the stream's leader is SIGKILLed halfway through. Every
 * event whose publish was acknowledged is in the stream once and reaches the client once, in
 * stream order. A watchdog ends the test (and so kills every server) if it hangs.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Metric } from "effect"
import * as BusMetrics from "../../src/realtime/nats/BusMetrics.js"
import { topicSet } from "../../src/realtime/Topics.js"
import { startNatsCluster } from "../support/nats.js"
import { ids, node, payment, settings, stream, until } from "./natsNodes.js"

const BATCHES = 60
const PER_BATCH = 50

// Run on demand (`NATS_FAILOVER_TEST=1 npx vitest run test/realtime/natsFailover.test.ts`), not in
// `npm test`: on the shared 2-core CI machine it hung once after the leader was killed. The likely
// cause, fixed since: the client library's ordered consumer, after losing its server, retries its
// reset in a loop that nothing can stop (nats.js 2.29 `resetConsumer`, `for (;;)`, fire-and-forget);
// the stall check's restart left it running, and with the connection only drained (never closed)
// its timers kept the worker alive. The feed now runs its own pull consumer (NatsFeed.ts) and the
// connection is closed after a drain times out. Kept on demand until it has run clean in CI a while.
describe.runIf(process.env["NATS_FAILOVER_TEST"] === "1")("NATS failover", () => {
  it.live("kill the stream leader of three under load: nothing acknowledged is lost or doubled", () =>
    Effect.gen(function*() {
      const cluster = yield* startNatsCluster
      const s = { ...settings(cluster.urls), servers: cluster.nodes.map((n) => n.url), replicas: 3, stream: "FAILOVER" }
      const publisher = yield* node(s)
      const api = yield* node(s)
      const client = stream()
      yield* api.hub.connect(topicSet(["vendor:gw_f"]), undefined, client.sink)
      const failuresBefore = (yield* Metric.value(BusMetrics.publishFailures)).count

      const leaderName = (yield* Effect.promise(() => publisher.bus.jsm.streams.info("FAILOVER"))).cluster?.leader
      const leader = cluster.nodes.find((_, i) => `n${i + 1}` === leaderName)
      expect(leader).toBeDefined()

      const sent: Array<string> = []
      for (let b = 0; b < BATCHES; b++) {
        if (b === BATCHES / 3) leader?.kill()
        const batch = Array.from({ length: PER_BATCH }, (_, i) => payment("gw_f", "a1", `f-${b}-${i}`))
        yield* publisher.committed.publish(batch)
        sent.push(...batch.map((e) => e.id))
        yield* Effect.sleep("20 millis")
        if (b % 10 === 9) yield* Effect.logInfo(`failover test: ${b + 1} batches published, ${client.messages.length} at the client`)
      }
      // Retries took any failed publish through; none was given up.
      expect((yield* Metric.value(BusMetrics.publishFailures)).count - failuresBefore).toBe(0)
      yield* until(() => client.messages.length >= sent.length, `${sent.length} events at the client (got ${client.messages.length})`, 2000)
      yield* Effect.sleep("500 millis")
      expect(ids(client.messages)).toEqual(sent)
      const seqs = client.messages.map((m) => Number((m.id ?? "").split("-")[1]))
      expect(seqs.every((seq, i) => i === 0 || seq > (seqs[i - 1] ?? 0))).toBe(true)
      const info = yield* Effect.promise(() => publisher.bus.jsm.streams.info("FAILOVER"))
      expect(info.state.messages).toBe(BATCHES) // one message per gateway per batch
      expect(info.cluster?.leader).not.toBe(leaderName)
    }).pipe(
      Effect.scoped,
      // Watchdog: fail rather than hang. Disconnected, so the failure is reported at once even if a
      // finalizer is stuck; the servers are killed by the scope or, at worst, when the worker exits.
      Effect.disconnect,
      Effect.timeoutFail({ duration: Duration.seconds(100), onTimeout: () => new Error("failover test hung") })
    ), { timeout: 120_000 })
})
