/**
 * Runs simulated gateways for a while, each on its own gateway client, at an aggregate event
 * rate, and reports what was sent and acknowledged. Time is split in 100 ms ticks; in each,
 * every gateway produces its share of the rate.
 */
import { Clock, Duration, Effect, Exit, Scope } from "effect"
import { type GatewayClient, makeGatewayClient, countingSettlementSink, httpSettlementSink } from "../../gateway/index.js"
import type { GatewayEntry } from "./gateways.js"
import { type Action, GatewaySim } from "./model.js"
import { emptyReport, recordBatch, type Report } from "./report.js"

export interface RunOptions {
  readonly gateways: ReadonlyArray<GatewayEntry>
  /** Events per second across these gateways. */
  readonly rate: number
  readonly seconds: number
  readonly runId: string
  readonly agents: number
  readonly windowSeconds: number
  /** POST intents to each gateway's relayer_url instead of counting them in memory. */
  readonly settleOverHttp: boolean
  /** Mean seconds between config changes per gateway (0: never). */
  readonly configEvery: number
  /** How long the clients may take to deliver what is buffered once the run ends. */
  readonly drainSeconds: number
  readonly onProgress?: (progress: { elapsed: number; events: number; acked: number; buffered: number; dropped: number; retries: number }) => void
}

const TICK_MS = 100

export const runFleet = (options: RunOptions) =>
  Effect.gen(function*() {
    const report = emptyReport()
    report.gateways = options.gateways.length
    const scope = yield* Scope.make()
    const seen = new Set<string>()
    const settlement = countingSettlementSink()
    const members: Array<{ sim: GatewaySim; client: GatewayClient; credit: number }> = []
    for (const g of options.gateways) {
      const sim = new GatewaySim(g.gateway_id, options.runId, options.agents, g.relayer_url)
      const client = yield* makeGatewayClient({
        gatewayId: g.gateway_id,
        receiverUrl: g.receiver_url,
        ingestKey: g.ingest_key,
        ...(g.signing_secret === undefined ? {} : { signingSecret: g.signing_secret }),
        maxBatchEvents: 500,
        maxBatchDelay: "100 millis",
        bufferCapacity: 200_000,
        // Four requests in flight per gateway: with one, a gateway's rate is bounded by batch size
        // over round-trip time, and round trips stretch to seconds on a starved machine. (Intent
        // updates may then arrive out of order; the receiver stores them and applies them in order.)
        concurrency: 4,
        settlement: options.settleOverHttp ? httpSettlementSink(g.relayer_url) : settlement,
        telemetry: { windowSeconds: options.windowSeconds, gatewayVersion: "sim-1.0" },
        config: sim.config(),
        idPrefix: `${options.runId}-${g.gateway_id}-c`,
        skipReadyCheck: members.length > 0,
        shutdownTimeout: Duration.seconds(options.drainSeconds),
        onBatch: (result) => recordBatch(report, result, seen)
      }).pipe(Scope.extend(scope))
      members.push({ sim, client, credit: 0 })
    }

    const started = yield* Clock.currentTimeMillis
    // Credit accrues with the time that really passed, so late ticks (a busy machine) keep the rate.
    const perGatewayPerMs = options.rate / options.gateways.length / 1000
    let lastTick = started
    const configChance = options.configEvery > 0 ? TICK_MS / 1000 / options.configEvery : 0
    let lastProgress = started
    const actions: Array<Action> = []
    for (let tick = 0; ; tick++) {
      const now = yield* Clock.currentTimeMillis
      if (now - started >= options.seconds * 1000) break
      const elapsed = Math.min(1000, now - lastTick)
      lastTick = now
      for (const m of members) {
        m.credit += perGatewayPerMs * elapsed
        actions.length = 0
        if (tick % 5 === 0) m.sim.advanceIntents(actions)
        if (Math.random() < configChance) actions.push({ _tag: "config", config: m.sim.changeConfig() })
        let events = 0
        while (events < m.credit) {
          const before = actions.length
          m.sim.request(actions)
          for (let i = before; i < actions.length; i++) if (actions[i]!._tag === "event" || actions[i]!._tag === "intent") events += 1
        }
        m.credit -= events
        for (const a of actions) {
          if (a._tag === "event" || a._tag === "intent") report.events += 1
          if (a._tag === "event") yield* m.client.send(a.event)
          else if (a._tag === "intent") yield* m.client.emitIntent(a.intent)
          else if (a._tag === "served") yield* m.client.recordRequest(a.request)
          else yield* m.client.setConfig(a.config)
        }
      }
      if (options.onProgress && now - lastProgress >= 1000) {
        lastProgress = now
        const stats = yield* Effect.forEach(members, (m) => m.client.stats)
        options.onProgress({
          elapsed: (now - started) / 1000,
          events: report.events,
          acked: Object.values(report.byType).reduce((n, t) => n + t.acked, 0),
          buffered: stats.reduce((n, s) => n + s.buffered, 0),
          dropped: stats.reduce((n, s) => n + s.dropped.buffer_full + s.dropped.gave_up + s.dropped.refused, 0),
          retries: stats.reduce((n, s) => n + s.retries.retryAfter + s.retries.transient, 0)
        })
      }
      // Always sleep, at least 1 ms: a loop running behind schedule that never sleeps starves the
      // clients' sockets (their answers are read only when the event loop turns).
      const next = started + (tick + 1) * TICK_MS
      const wait = next - (yield* Clock.currentTimeMillis)
      yield* Effect.sleep(Duration.millis(Math.max(1, wait)))
    }
    report.seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
    // Closing the scope sends every client's open window and drains its outbox.
    const stats = yield* Effect.forEach(members, (m) => m.client.stats.pipe(Effect.map(() => m)))
    yield* Scope.close(scope, Exit.void)
    for (const { client } of stats) {
      const s = yield* client.stats
      const c = report.client
      c.offered += s.offered
      c.requests += s.requests
      c.accepted += s.accepted
      c.duplicate += s.duplicate
      c.rejected += s.rejected
      c.retries = { retryAfter: c.retries.retryAfter + s.retries.retryAfter, transient: c.retries.transient + s.retries.transient }
      c.dropped = {
        buffer_full: c.dropped.buffer_full + s.dropped.buffer_full,
        gave_up: c.dropped.gave_up + s.dropped.gave_up,
        refused: c.dropped.refused + s.dropped.refused
      }
      c.settlement = { ok: c.settlement.ok + s.settlement.ok, failed: c.settlement.failed + s.settlement.failed }
      c.packets += s.packets
      c.configsSent += s.configsSent
    }
    return report satisfies Report
  })
