/**
 * The NATS JetStream connection behind `REALTIME_BUS=nats`: one client per process, the live
 * stream (created or brought to the configured limits at start-up) and its wire format.
 *
 *   stream   `<NATS_STREAM>`, subjects `<NATS_STREAM>.ev.<gateway token>` (a subject per vendor
 *            topic), retention bounded by NATS_STREAM_MAX_AGE and NATS_STREAM_MAX_BYTES (oldest
 *            dropped first), NATS_REPLICAS copies
 *   message  one per gateway per committed batch (at most MAX_GROUP events, ~512 KB):
 *            `{"c":commitMs,"e":[[source,id,type,time,gatewayId,subject|null,data],…]}`, with a
 *            `Nats-Msg-Id` of its events' keys so a retried publish is stored once. A message per
 *            event cost ~7× the client CPU (60–90 µs per event, measured): too much at 10k/s.
 *   position an event's position is `stream sequence × 1024 + index in its message`; with the
 *            stream's tag (from its creation time) as the `instance` it makes the event id, the
 *            same on every node (a recreated stream gets a new tag, and older cursors a reset)
 */
import { Context, Data, Duration, Effect, Layer, Schedule } from "effect"
import { createHash } from "node:crypto"
import {
  connect,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  RetentionPolicy,
  StorageType,
  type StreamConfig
} from "nats"
import type { SequencedEvent } from "../History.js"
import type { LiveEventInput } from "../Topics.js"
import { addOrUpdateStream } from "./EnsureStream.js"
import { type NatsSettings, NatsSettingsConfig } from "./NatsConfig.js"

export class NatsUnavailable extends Data.TaggedError("NatsUnavailable")<{ readonly message: string }> {}

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

export class NatsBus extends Context.Tag("Realtime/NatsBus")<NatsBus, {
  readonly nc: NatsConnection
  readonly js: JetStreamClient
  readonly jsm: JetStreamManager
  readonly settings: NatsSettings
  /** 8 hex digits naming this incarnation of the stream (the `instance` of event ids). */
  readonly streamTag: string
}>() {
  static readonly Live = Layer.scoped(NatsBus, Effect.flatMap(NatsSettingsConfig, (settings) => makeBus(settings)))
  static readonly layer = (settings: NatsSettings) => Layer.scoped(NatsBus, makeBus(settings))
}

const nanos = (d: Duration.Duration) => Duration.toMillis(d) * 1_000_000

export const streamConfig = (settings: NatsSettings): Partial<StreamConfig> => ({
  name: settings.stream,
  subjects: [`${settings.stream}.ev.>`],
  retention: RetentionPolicy.Limits,
  storage: StorageType.File,
  discard: DiscardPolicy.Old,
  max_age: nanos(settings.maxAge),
  max_bytes: settings.maxBytes,
  num_replicas: settings.replicas,
  duplicate_window: nanos(Duration.minutes(2))
})

const makeBus = (settings: NatsSettings) =>
  Effect.gen(function*() {
    // Not inside an acquire (those are uninterruptible): a start-up that cannot reach NATS stays interruptible.
    const nc = yield* Effect.tryPromise({
      try: () =>
        connect({
          servers: [...settings.servers],
          name: "machpay-telemetry",
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          pingInterval: 10_000
        }),
      catch: (cause) => new NatsUnavailable({ message: `cannot connect to NATS at ${settings.servers.join(",")}: ${describe(cause)}` })
    }).pipe(Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 20 }))
    // A drain that cannot finish (its server gone) must still close: an open client reconnects
    // forever (maxReconnectAttempts -1) and its timers keep the process from exiting.
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => nc.drain().catch(() => undefined)).pipe(
        Effect.timeoutOption("3 seconds"),
        Effect.zipRight(Effect.promise(() => nc.close().catch(() => undefined)).pipe(Effect.timeoutOption("1 second")))
      )
    )
    const jsm = yield* Effect.tryPromise({
      try: () => nc.jetstreamManager(),
      catch: (cause) => new NatsUnavailable({ message: `JetStream is not enabled on the NATS server: ${describe(cause)}` })
      // A cluster that is just forming answers only once it has a JetStream leader.
    }).pipe(Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 30 }))
    const config = streamConfig(settings)
    // Several nodes start together: add, or bring an existing stream to the configured limits.
    const info = yield* Effect.tryPromise({
      try: () =>
        addOrUpdateStream(jsm, settings.stream, config, {
          subjects: [`${settings.stream}.ev.>`],
          max_age: nanos(settings.maxAge),
          max_bytes: settings.maxBytes,
          num_replicas: settings.replicas
        }),
      catch: (cause) => new NatsUnavailable({ message: `cannot create or update stream ${settings.stream}: ${describe(cause)}` })
      // A loaded machine or a cluster still electing can take tens of seconds.
    }).pipe(Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 60 }))
    const streamTag = createHash("sha256").update(`${settings.stream}\u0000${info.created}`).digest("hex").slice(0, 8)
    return NatsBus.of({ nc, js: nc.jetstream(), jsm, settings, streamTag })
  })

const SAFE_TOKEN = /^[A-Za-z0-9_-]{1,128}$/

/** A subject token for a gateway id (ids outside the safe alphabet are hashed; the token is only a routing label). */
export const gatewayToken = (gatewayId: string): string =>
  SAFE_TOKEN.test(gatewayId) ? gatewayId : `h_${createHash("sha256").update(gatewayId).digest("hex").slice(0, 32)}`

export const subjectFor = (stream: string, gatewayId: string): string => `${stream}.ev.${gatewayToken(gatewayId)}`

/** Events per message at most: positions within a message are 0 … POSITIONS − 1. */
export const POSITIONS = 1024
const MAX_GROUP = 1000
const MAX_GROUP_BYTES = 512 * 1024

export const positionOf = (streamSeq: number, index: number): number => streamSeq * POSITIONS + index
export const streamSeqOf = (position: number): number => Math.floor(position / POSITIONS)

export interface OutgoingMessage {
  readonly subject: string
  readonly data: string
  readonly msgID: string
}

/** A committed batch → its messages: grouped by gateway (in first-seen order), split by count and size. */
export const encodeBatch = (stream: string, events: ReadonlyArray<LiveEventInput>, commitMs: number): Array<OutgoingMessage> => {
  const groups = new Map<string, Array<string>>()
  const keys = new Map<string, ReturnType<typeof createHash>>()
  const sizes = new Map<string, number>()
  const out: Array<OutgoingMessage> = []
  const head = `{"c":${commitMs},"e":[`
  const close = (gatewayId: string) => {
    const tuples = groups.get(gatewayId)
    if (tuples === undefined || tuples.length === 0) return
    out.push({
      subject: subjectFor(stream, gatewayId),
      data: `${head}${tuples.join(",")}]}`,
      msgID: keys.get(gatewayId)?.digest("base64url") ?? ""
    })
    groups.delete(gatewayId)
    keys.delete(gatewayId)
    sizes.delete(gatewayId)
  }
  for (const e of events) {
    const tuple = JSON.stringify([e.source, e.id, e.type, e.time, e.gatewayId, e.subject ?? null, e.data ?? null])
    if ((groups.get(e.gatewayId)?.length ?? 0) >= MAX_GROUP || (sizes.get(e.gatewayId) ?? 0) + tuple.length > MAX_GROUP_BYTES) {
      close(e.gatewayId)
    }
    let group = groups.get(e.gatewayId)
    if (group === undefined) {
      group = []
      groups.set(e.gatewayId, group)
      keys.set(e.gatewayId, createHash("sha256"))
    }
    group.push(tuple)
    sizes.set(e.gatewayId, (sizes.get(e.gatewayId) ?? 0) + tuple.length)
    keys.get(e.gatewayId)?.update(e.source).update("\u0000").update(e.id).update("\u0000")
  }
  for (const gatewayId of [...groups.keys()]) close(gatewayId)
  return out
}

/** A stored message back to its events at their positions; empty when it is not one of ours. */
export const decodeMessage = (streamSeq: number, payload: string): Array<SequencedEvent> => {
  try {
    const body = JSON.parse(payload) as { c?: unknown; e?: unknown }
    const commitMs = body.c
    if (typeof commitMs !== "number" || !Array.isArray(body.e)) return []
    const out: Array<SequencedEvent> = []
    body.e.forEach((t: unknown, index: number) => {
      if (!Array.isArray(t) || t.length !== 7 || index >= POSITIONS) return
      const [source, id, type, time, gatewayId, subject, data] = t as Array<unknown>
      if (
        typeof source !== "string" || typeof id !== "string" || typeof type !== "string" || typeof time !== "string" ||
        typeof gatewayId !== "string" || !(subject === null || typeof subject === "string")
      ) return
      out.push({
        seq: positionOf(streamSeq, index),
        commitMs,
        event: { source, id, type, time, gatewayId, subject: subject ?? undefined, data }
      })
    })
    return out
  } catch {
    return []
  }
}
