/**
 * The live feed over JetStream (`REALTIME_BUS=nats`), replacing the LISTEN/NOTIFY bridge:
 *
 * - `NatsCommittedEventsLive` (every process): after each commit, the batch's events are
 *   published to the stream, a message per gateway on its subject, all in flight at once (one
 *   round trip per batch), retried with the same `Nats-Msg-Id`.
 *   This process's own hub gets them back from the stream like every other node's, so one
 *   order and one set of ids hold everywhere.
 * - `NatsHubLive` (every process): the hub, its ids keyed by stream sequence and the stream's
 *   tag; a cursor older than its ring (or newer than it has seen) is read back from the stream.
 * - `NatsFeedLive` (api role): an ordered consumer from the stream's end at start-up feeds the
 *   hub. After a reconnect or a server loss it is recreated from the last sequence received: no gap.
 * - health (`realtime`) and the bus's metrics (stream bytes and messages polled every 2 s, with
 *   a stall check that restarts a consumer the stream has moved past).
 */
import { Chunk, Clock, Effect, Layer, Metric, Queue, Schedule } from "effect"
import { AckPolicy, type ConsumerMessages, DeliverPolicy, type JsMsg, type NatsConnection } from "nats"
import { AppSettingsService } from "../../config/AppConfig.js"
import { HealthChecks } from "../../health/HealthChecks.js"
import { CommittedEvents } from "../../ingest/PipelineService.js"
import type { SequencedEvent } from "../History.js"
import { type BackfillResult, RealtimeHub } from "../Hub.js"
import { RealtimeSettingsConfig } from "../RealtimeConfig.js"
import * as BusMetrics from "./BusMetrics.js"
import { decodeMessage, encodeBatch, NatsBus, POSITIONS, positionOf, streamSeqOf } from "./NatsBus.js"

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

const decoder = new TextDecoder()

export const NatsCommittedEventsLive = Layer.effect(
  CommittedEvents,
  Effect.gen(function*() {
    const bus = yield* NatsBus
    const state = yield* busState(bus.nc)
    return CommittedEvents.of({
      publish: (events) =>
        events.length === 0 ? Effect.void : Effect.gen(function*() {
          const commitMs = yield* Clock.currentTimeMillis
          const messages = encodeBatch(bus.settings.stream, events, commitMs)
          yield* Effect.tryPromise(() =>
            Promise.all(messages.map((m) => bus.js.publish(m.subject, m.data, { msgID: m.msgID, timeout: 5000 })))
          ).pipe(
            // Up to ~30 s (backoff capped at 1 s): long enough for a cluster to elect a new stream
            // leader under load. Later batches wait (coalesced) rather than being lost meanwhile.
            Effect.retry(
              Schedule.exponential("100 millis").pipe(Schedule.either(Schedule.spaced("1 second")), Schedule.intersect(Schedule.recurs(30)))
            ),
            Effect.tap(() =>
              Effect.flatMap(Clock.currentTimeMillis, (now) =>
                Effect.zipRight(
                  Metric.update(BusMetrics.publishSeconds, Math.max(0, now - commitMs) / 1000),
                  Metric.incrementBy(BusMetrics.published, events.length)
                ))
            ),
            Effect.tap(() => Effect.sync(() => void (state.publishError = undefined))),
            Effect.catchAll((error) =>
              Effect.gen(function*() {
                state.publishError = describe(error.error)
                yield* Metric.incrementBy(BusMetrics.publishFailures, 1)
                yield* Effect.logWarning("could not publish committed events to JetStream; live streams miss them").pipe(
                  Effect.annotateLogs({ events: events.length, error: state.publishError })
                )
              })
            )
          )
        })
    })
  })
)

interface BusState {
  connected: boolean
  publishError: string | undefined
}

const states = new WeakMap<NatsConnection, BusState>()

/** One state per connection, shared by the publisher and the health probe; follows the client's status events. */
const busState = (nc: NatsConnection) =>
  Effect.sync(() => {
    const existing = states.get(nc)
    if (existing !== undefined) return existing
    const state: BusState = { connected: true, publishError: undefined }
    states.set(nc, state)
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect") state.connected = false
        if (status.type === "reconnect") state.connected = true
      }
    })().catch(() => undefined)
    return state
  })

/** Reads the stream after position `afterPosition`, up to its last message now (positions: see NatsBus.ts). */
const backfillFrom = (bus: NatsBus["Type"]) => (afterPosition: number): Effect.Effect<BackfillResult> =>
  Effect.tryPromise(async (): Promise<BackfillResult> => {
    const { state } = await bus.jsm.streams.info(bus.settings.stream)
    const from = streamSeqOf(afterPosition)
    const lastPosition = positionOf(state.last_seq, POSITIONS - 1)
    if (from > state.last_seq) return { _tag: "Reset", reason: "cursor_unknown" }
    // The cursor's own message is read again (the client may have seen only part of it).
    if (from < state.first_seq) return { _tag: "Reset", reason: "cursor_too_old" }
    if (state.last_seq - from + 1 > bus.settings.replayMaxMessages) return { _tag: "Reset", reason: "replay_too_large" }
    const consumer = await bus.js.consumers.get(bus.settings.stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from
    })
    const events: Array<SequencedEvent> = []
    let seq = from - 1
    while (seq < state.last_seq) {
      const batch = await consumer.fetch({ max_messages: Math.min(1000, state.last_seq - seq), expires: 2000 })
      let got = 0
      for await (const m of batch) {
        got += 1
        seq = m.seq
        if (m.seq > state.last_seq) continue
        for (const event of decodeMessage(m.seq, decoder.decode(m.data))) if (event.seq > afterPosition) events.push(event)
      }
      if (got === 0) break
    }
    return { _tag: "Events", events, lastSeq: seq >= state.last_seq ? lastPosition : positionOf(seq, POSITIONS - 1) }
  }).pipe(
    Effect.timeout("10 seconds"),
    Effect.catchAll((error) =>
      Metric.increment(BusMetrics.errors).pipe(
        Effect.zipRight(Effect.logWarning("could not read the stream for a resume; the stream gets a reset").pipe(
          Effect.annotateLogs({ error: describe(error) })
        )),
        Effect.as<BackfillResult>({ _tag: "Reset", reason: "cursor_too_old" })
      )
    )
  )

export const NatsHubLive = Layer.scoped(
  RealtimeHub,
  Effect.gen(function*() {
    const bus = yield* NatsBus
    const s = yield* RealtimeSettingsConfig
    return yield* RealtimeHub.make({
      historySize: s.historySize,
      historyWindow: s.historyWindow,
      instanceId: bus.streamTag,
      backfill: backfillFrom(bus)
    })
  })
)

/** The api node's consumer: every event of the stream from now on, in stream order, into the hub. */
export const NatsFeedLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const { roles } = yield* AppSettingsService
    if (!roles.has("api")) return
    const bus = yield* NatsBus
    const hub = yield* RealtimeHub
    const inbox = yield* Queue.unbounded<JsMsg>()
    // From the stream's end as the layer is built: everything committed after start-up is received.
    let lastSeq = yield* Effect.tryPromise(() => bus.jsm.streams.info(bus.settings.stream)).pipe(
      Effect.map((info) => info.state.last_seq),
      Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 20 }),
      Effect.orDie
    )
    // Messages at or below `lastSeq` that come again (queued before a restart) are skipped and counted.
    // One consumer at a time, of our own making (not the client library's ordered consumer, whose
    // internal reset loop retries forever after a server loss, cannot be stopped and kept timers
    // alive after the test's servers were gone — the natsFailover hang): an ephemeral, unacked,
    // in-memory pull consumer from `lastSeq + 1`, read by successive fetches. A gap in its delivery
    // sequence, a failed fetch or the stall check below ends the session; the next starts after the
    // last sequence received. The server drops an abandoned consumer after 30 s of inactivity.
    let current: { readonly stop: () => void } | undefined
    const session = Effect.acquireUseRelease(
      Effect.tryPromise(async () => {
        const info = await bus.jsm.consumers.add(bus.settings.stream, {
          ack_policy: AckPolicy.None,
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: lastSeq + 1,
          mem_storage: true,
          num_replicas: 1,
          inactive_threshold: 30_000_000_000
        })
        return { name: info.name, consumer: await bus.js.consumers.get(bus.settings.stream, info.name) }
      }).pipe(Effect.timeout("10 seconds")),
      ({ consumer }) =>
        Effect.suspend(() => {
          let ended = false
          let messages: ConsumerMessages | undefined
          const stop = { stop: () => {
            ended = true
            messages?.stop()
          } }
          current = stop
          return Effect.tryPromise(async () => {
            let deliverySeq = 0
            while (!ended) {
              messages = await consumer.fetch({ max_messages: 1000, expires: 5000 })
              for await (const m of messages) {
                if (m.info.deliverySequence !== deliverySeq + 1) throw new Error(`delivery gap after ${deliverySeq}`)
                deliverySeq = m.info.deliverySequence
                inbox.unsafeOffer(m)
              }
            }
          }).pipe(Effect.ensuring(Effect.sync(() => stop.stop())))
        }),
      ({ name }) =>
        Effect.tryPromise(() => bus.jsm.consumers.delete(bus.settings.stream, name)).pipe(Effect.timeoutOption("2 seconds"), Effect.ignore)
    )
    yield* session.pipe(
      Effect.catchAll((error) => Metric.increment(BusMetrics.errors).pipe(
        Effect.zipRight(Effect.logWarning("JetStream consumer failed; restarting").pipe(Effect.annotateLogs({ error: describe(error) })))
      )),
      Effect.zipRight(Effect.sleep("250 millis")),
      Effect.forever,
      Effect.forkScoped
    )
    yield* Effect.gen(function*() {
      while (true) {
        const batch = Chunk.toReadonlyArray(yield* Queue.takeBetween(inbox, 1, 1024))
        const now = yield* Clock.currentTimeMillis
        const items: Array<SequencedEvent> = []
        let redelivered = 0
        for (const m of batch) {
          if (m.seq <= lastSeq) {
            redelivered += 1
            continue
          }
          lastSeq = m.seq
          const decoded = decodeMessage(m.seq, decoder.decode(m.data))
          if (decoded.length === 0) {
            yield* Metric.increment(BusMetrics.errors)
            continue
          }
          for (const item of decoded) {
            items.push(item)
            BusMetrics.consumeLagSeconds.unsafeUpdate(Math.max(0, now - item.commitMs) / 1000, [])
          }
        }
        if (redelivered > 0) yield* Metric.incrementBy(BusMetrics.redeliveries, redelivered)
        yield* Metric.incrementBy(BusMetrics.received, items.length)
        yield* hub.publishSequenced(items)
      }
    }).pipe(Effect.forkScoped)

    // Every 2 s: stream size and this node's backlog for /metrics; and a stall check. The library's
    // own recovery can stop short when the server that held the consumer dies while the cluster
    // elects new leaders (seen in natsFailover.test.ts): the stream moved on, this node did not
    // for a whole period → the consumer is stopped, and the loop above starts a new one.
    let seenAtLastCheck = -1
    yield* Effect.tryPromise(() => bus.jsm.streams.info(bus.settings.stream)).pipe(
      Effect.flatMap(({ state }) =>
        Effect.gen(function*() {
          yield* Metric.set(BusMetrics.streamBytes, state.bytes)
          yield* Metric.set(BusMetrics.streamMessages, state.messages)
          yield* Metric.set(BusMetrics.consumerPending, Math.max(0, state.last_seq - lastSeq))
          const stalled = state.last_seq > lastSeq && lastSeq === seenAtLastCheck
          seenAtLastCheck = lastSeq
          if (stalled && current !== undefined) {
            yield* Metric.increment(BusMetrics.errors)
            yield* Effect.logWarning("JetStream consumer stalled; restarting it").pipe(Effect.annotateLogs({ after: lastSeq }))
            current.stop()
          }
        })
      ),
      Effect.ignore,
      Effect.repeat(Schedule.spaced("2 seconds")),
      Effect.forkScoped
    )
  })
)

/** `realtime` on /health: the NATS connection and the last publish. */
export const NatsHealthLive = Layer.effectDiscard(
  Effect.gen(function*() {
    const bus = yield* NatsBus
    const health = yield* HealthChecks
    const state = yield* busState(bus.nc)
    yield* Metric.incrementBy(BusMetrics.errors, 0)
    yield* Metric.incrementBy(BusMetrics.publishFailures, 0)
    yield* Metric.incrementBy(BusMetrics.redeliveries, 0)
    yield* health.register("realtime", Effect.sync(() =>
      bus.nc.isClosed()
        ? { status: "degraded" as const, reason: "NATS connection closed" }
        : !state.connected
        ? { status: "degraded" as const, reason: `reconnecting to NATS (${bus.settings.servers.join(",")})` }
        : state.publishError !== undefined
        ? { status: "degraded" as const, reason: `cannot publish to JetStream: ${state.publishError}` }
        : { status: "ok" as const }
    ))
  })
)
