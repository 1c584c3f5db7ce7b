/**
 * The hub across processes, through PostgreSQL (no extra broker):
 *
 * - `CommittedEventsLive` (every process; called by the receiver's pipeline after each commit):
 *   publishes into the local hub when this process serves streams (api role), and sends the
 *   batch to the other processes with `pg_notify` (see Notification.ts) while another process
 *   listens (Presence.ts).
 * - `ListenerLive` (api role): a dedicated connection LISTENs (ListenConnection.ts), announces
 *   itself (Presence.ts), and republishes other processes' batches into the local hub, in order.
 *   When the connection drops (or stops answering the probe sent on it every
 *   `SSE_LISTEN_PROBE_INTERVAL`) it reconnects with backoff and marks a gap: notifications sent
 *   meanwhile are lost, so open streams get `event: reset` and older cursors stop resuming.
 */
import { SqlClient } from "@effect/sql"
import { Cause, Clock, Context, Effect, Either, Layer, Metric, Option, Schedule } from "effect"
import { AppSettingsService } from "../config/AppConfig.js"
import { DatabaseStatus, PgPool } from "../db/Database.js"
import { HealthChecks } from "../health/HealthChecks.js"
import { CommittedEvents } from "../ingest/PipelineService.js"
import { RealtimeHub } from "./Hub.js"
import { asError, connectListener, listenOn } from "./ListenConnection.js"
import * as Metrics from "./Metrics.js"
import { announce, presenceTiming, watchListeners } from "./Presence.js"
import { RealtimeSettingsConfig } from "./RealtimeConfig.js"
import {
  CHANNEL,
  decodeNotification,
  encodeBatch,
  type EventKey,
  eventOfTuple,
  isFrom,
  keyOfTuple,
  type Notification
} from "./Notification.js"
import type { LiveEventInput } from "./Topics.js"

const tagged = (metric: typeof Metrics.bridgeNotifications, direction: string, mode: string) =>
  Metric.tagged(Metric.tagged(metric, "direction", direction), "mode", mode)

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

interface BridgeState {
  notifyError: string | undefined
  listening: boolean | undefined
  listenError: string | undefined
}

class BridgeStateTag extends Context.Tag("Realtime/BridgeState")<BridgeStateTag, BridgeState>() {}

export const CommittedEventsLive = Layer.scoped(
  CommittedEvents,
  Effect.gen(function*() {
    const hub = yield* RealtimeHub
    const sql = yield* SqlClient.SqlClient
    const { roles } = yield* AppSettingsService
    const state = yield* BridgeStateTag
    const local = roles.has("api")
    const { presenceCheck } = yield* RealtimeSettingsConfig
    const listeners = yield* watchListeners(hub.instanceId, presenceTiming(presenceCheck))

    const notify = (events: ReadonlyArray<LiveEventInput>, commitMs: number) =>
      Effect.gen(function*() {
        const { mode, payloads } = encodeBatch(hub.instanceId, commitMs, events)
        // One statement, so a batch's notifications arrive together and in order.
        yield* payloads.length === 1
          ? sql`SELECT pg_notify(${CHANNEL}, ${payloads[0] ?? ""})`
          : sql`SELECT pg_notify(${CHANNEL}, p.x) FROM jsonb_array_elements_text(${JSON.stringify(payloads)}::jsonb)
                  WITH ORDINALITY AS p(x, n) ORDER BY p.n`
        state.notifyError = undefined
        yield* Metric.incrementBy(tagged(Metrics.bridgeNotifications, "sent", mode), payloads.length)
      }).pipe(
        Effect.catchAllCause((cause) =>
          Effect.gen(function*() {
            state.notifyError = describe(Cause.squash(cause))
            yield* Metric.increment(Metrics.bridgeErrors)
            yield* Effect.logWarning("could not notify other processes of committed events").pipe(
              Effect.annotateLogs({ events: events.length, error: state.notifyError })
            )
          })
        )
      )

    return CommittedEvents.of({
      publish: (events) =>
        events.length === 0 ? Effect.void : Effect.gen(function*() {
          const commitMs = yield* Clock.currentTimeMillis
          if (local) yield* hub.publish(events, commitMs)
          if (listeners.othersListening()) yield* notify(events, commitMs)
          else yield* Metric.increment(Metrics.bridgeUnsent)
        })
    })
  })
)

interface Row {
  readonly source: string
  readonly id: string
  readonly type: string
  readonly gateway_id: string | null
  readonly subject: string | null
  readonly data: unknown
}

/** Reads the keyed events back, in the keys' order (rows not found are skipped). */
const readBack = (sql: SqlClient.SqlClient, keys: ReadonlyArray<EventKey>) =>
  Effect.gen(function*() {
    const json = JSON.stringify(keys.map((k) => ({ s: k.source, i: k.id, t: k.time })))
    const rows = yield* sql<Row>`
      SELECT e.source, e.id, e.type, e.gateway_id, e.subject, e.data
        FROM jsonb_to_recordset(${json}::jsonb) AS k(s text, i text, t timestamptz)
        JOIN telemetry_events e ON e.source = k.s AND e.id = k.i AND e.event_time = k.t`
    const found = new Map(rows.map((row) => [`${row.source}\u0000${row.id}`, row]))
    return keys.flatMap((key): Array<LiveEventInput> => {
      const row = found.get(`${key.source}\u0000${key.id}`)
      return row === undefined ? [] : [{
        source: row.source,
        id: row.id,
        type: row.type,
        time: key.time,
        gatewayId: row.gateway_id ?? "",
        subject: row.subject ?? undefined,
        data: row.data
      }]
    })
  })

export const ListenerLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const { roles } = yield* AppSettingsService
    if (!roles.has("api")) return
    const hub = yield* RealtimeHub
    const sql = yield* SqlClient.SqlClient
    const pool = yield* PgPool
    const state = yield* BridgeStateTag
    const { listenProbe, presenceCheck } = yield* RealtimeSettingsConfig
    const { grace } = presenceTiming(presenceCheck)
    const decodeAll = (payloads: ReadonlyArray<string>) =>
      Effect.forEach(
        // Our own notifications come back too: recognised by their header, never parsed.
        payloads.filter((payload) => !isFrom(payload, hub.instanceId)),
        (payload) =>
          Either.match(decodeNotification(payload), {
            onRight: (message): Effect.Effect<Array<Notification>> => Effect.succeed([message]),
            onLeft: () =>
              Metric.increment(Metrics.bridgeErrors).pipe(
                Effect.zipRight(Effect.logWarning("ignored an undecodable realtime notification")),
                Effect.as([])
              )
          })
      ).pipe(Effect.map((lists) => lists.flat()))

    const publishKeys = (keys: ReadonlyArray<EventKey>, commitMs: number) =>
      readBack(sql, keys).pipe(
        Effect.retry(Schedule.exponential("50 millis").pipe(Schedule.intersect(Schedule.recurs(4)))),
        Effect.flatMap((events) => hub.publish(events, commitMs)),
        Effect.catchAll((error) =>
          Effect.gen(function*() {
            yield* Metric.increment(Metrics.bridgeErrors)
            yield* Effect.logWarning("could not read notified events back; streams get a reset").pipe(
              Effect.annotateLogs({ error: describe(error) })
            )
            yield* hub.interrupted
          })
        )
      )

    /**
     * Whatever arrived together, in order. The keys of one batch come as several notifications
     * with the same origin and commit time: they are read back in one query.
     */
    const handle = (payloads: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const messages = yield* decodeAll(payloads)
        let pending: { origin: string; commitMs: number; keys: Array<EventKey> } | undefined
        const flush = Effect.suspend(() => {
          const batch = pending
          pending = undefined
          return batch === undefined ? Effect.void : publishKeys(batch.keys, batch.commitMs)
        })
        for (const message of messages) {
          if ("e" in message) {
            yield* flush
            yield* Metric.increment(tagged(Metrics.bridgeNotifications, "received", "inline"))
            yield* hub.publish(message.e.map(eventOfTuple), message.c)
            continue
          }
          yield* Metric.increment(tagged(Metrics.bridgeNotifications, "received", "keys"))
          if (pending !== undefined && (pending.origin !== message.o || pending.commitMs !== message.c)) yield* flush
          if (pending === undefined) pending = { origin: message.o, commitMs: message.c, keys: [] }
          pending.keys.push(...message.k.map(keyOfTuple))
        }
        yield* flush
      })

    const session = Effect.gen(function*() {
      const client = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: () => connectListener(pool.options),
          catch: asError
        }),
        (client) => Effect.promise(() => client.end().catch(() => undefined)).pipe(Effect.timeoutOption("2 seconds"))
      )
      const refresh = yield* announce(client, hub.instanceId)
      // Receivers see the announcement within the grace; until then one may have skipped a batch.
      // So only then does this count as listening, and whatever came before is a gap for this hub.
      const listening = Effect.sleep(grace).pipe(
        Effect.zipRight(Effect.suspend(() => {
          state.listening = true
          state.listenError = undefined
          return hub.interrupted
        })),
        Effect.zipRight(
          Effect.logInfo("listening for committed events of other processes").pipe(Effect.annotateLogs({ channel: CHANNEL }))
        ),
        Effect.zipRight(Effect.never)
      )
      yield* Effect.all([listenOn(client, listenProbe, handle), refresh, listening], { concurrency: "unbounded", discard: true })
    }).pipe(
      Effect.scoped,
      Effect.tapErrorCause((cause) =>
        Effect.gen(function*() {
          const first = state.listening === undefined
          state.listening = false
          state.listenError = describe(Cause.squash(cause))
          if (!first) yield* Metric.increment(Metrics.bridgeErrors)
          yield* Effect.logWarning("LISTEN connection lost; reconnecting").pipe(Effect.annotateLogs({ error: state.listenError }))
        })
      )
    )

    // The announcement needs the schema: the first session waits for the migrations.
    const database = yield* Effect.serviceOption(DatabaseStatus)
    yield* Option.match(database, { onNone: () => Effect.void, onSome: (status) => status.ready }).pipe(
      Effect.zipRight(session.pipe(
        Effect.retry(Schedule.exponential("100 millis", 2).pipe(Schedule.either(Schedule.spaced("5 seconds"))))
      )),
      Effect.forkScoped
    )
  })
)

/** Health of the bridge: NOTIFY failures (receiver) and the LISTEN connection (api). */
const BridgeStateLive = Layer.effect(
  BridgeStateTag,
  Effect.gen(function*() {
    const state: BridgeState = { notifyError: undefined, listening: undefined, listenError: undefined }
    const health = yield* HealthChecks
    const { roles } = yield* AppSettingsService
    // Counters that alerts watch exist at 0 from the start (rate() needs a series before the first event).
    yield* Metric.incrementBy(Metrics.bridgeErrors, 0)
    yield* Metric.incrementBy(Metrics.slowConsumerDrops, 0)
    yield* Metric.incrementBy(Metrics.bridgeUnsent, 0)
    yield* health.register("realtime", Effect.sync(() =>
      roles.has("api") && state.listening !== true
        ? { status: "degraded" as const, reason: `not listening for other processes' events: ${state.listenError ?? "connecting"}` }
        : state.notifyError !== undefined
        ? { status: "degraded" as const, reason: `cannot notify other processes: ${state.notifyError}` }
        : { status: "ok" as const }
    ))
    return state
  })
)

/** `CommittedEvents` and the LISTEN side over an existing `RealtimeHub`. */
export const BridgeLive = Layer.merge(CommittedEventsLive, ListenerLive).pipe(Layer.provide(BridgeStateLive))
