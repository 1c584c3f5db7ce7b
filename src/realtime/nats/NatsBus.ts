/**
 * The NATS JetStream connection behind `REALTIME_BUS=nats`: one client per process, the live
 * stream (created or brought to the configured limits at start-up) and its wire format.
 *
 *   stream   `<NATS_STREAM>`, subjects `<NATS_STREAM>.ev.<gateway token>` (a subject per vendor
 *            topic), retention bounded by NATS_STREAM_MAX_AGE and NATS_STREAM_MAX_BYTES (oldest
 *            dropped first), NATS_REPLICAS copies
 *   message  `[commitMs, source, id, type, time, gatewayId, subject|null, data]` (JSON), with a
 *            `Nats-Msg-Id` of the event's key so a retried publish is stored once
 *   position the stream sequence; the stream's tag (from its creation time) is the `instance`
 *            part of every event id, the same on every node (a recreated stream gets a new tag,
 *            and older cursors a reset)
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
    const nc = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          connect({
            servers: [...settings.servers],
            name: "machpay-telemetry",
            maxReconnectAttempts: -1,
            reconnectTimeWait: 250,
            pingInterval: 10_000
          }),
        catch: (cause) => new NatsUnavailable({ message: `cannot connect to NATS at ${settings.servers.join(",")}: ${describe(cause)}` })
      }).pipe(Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 20 })),
      (nc) => Effect.promise(() => nc.drain().catch(() => undefined)).pipe(Effect.timeoutOption("3 seconds"))
    )
    const jsm = yield* Effect.tryPromise({
      try: () => nc.jetstreamManager(),
      catch: (cause) => new NatsUnavailable({ message: `JetStream is not enabled on the NATS server: ${describe(cause)}` })
      // A cluster that is just forming answers only once it has a JetStream leader.
    }).pipe(Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 30 }))
    const config = streamConfig(settings)
    // Several nodes start together: add, or bring an existing stream to the configured limits.
    const info = yield* Effect.tryPromise({
      try: async () => {
        try {
          return await jsm.streams.add(config)
        } catch {
          return await jsm.streams.update(settings.stream, {
            subjects: [`${settings.stream}.ev.>`],
            max_age: nanos(settings.maxAge),
            max_bytes: settings.maxBytes,
            num_replicas: settings.replicas
          })
        }
      },
      catch: (cause) => new NatsUnavailable({ message: `cannot create or update stream ${settings.stream}: ${describe(cause)}` })
    }).pipe(Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 20 }))
    const streamTag = createHash("sha256").update(`${settings.stream}\u0000${info.created}`).digest("hex").slice(0, 8)
    return NatsBus.of({ nc, js: nc.jetstream(), jsm, settings, streamTag })
  })

const SAFE_TOKEN = /^[A-Za-z0-9_-]{1,128}$/

/** A subject token for a gateway id (ids outside the safe alphabet are hashed; the token is only a routing label). */
export const gatewayToken = (gatewayId: string): string =>
  SAFE_TOKEN.test(gatewayId) ? gatewayId : `h_${createHash("sha256").update(gatewayId).digest("hex").slice(0, 32)}`

export const subjectFor = (stream: string, gatewayId: string): string => `${stream}.ev.${gatewayToken(gatewayId)}`

/** The dedupe id of a published event (its CloudEvents key). */
export const messageId = (event: LiveEventInput): string =>
  createHash("sha256").update(event.source).update("\u0000").update(event.id).digest("base64url")

export const encodeEvent = (event: LiveEventInput, commitMs: number): string =>
  JSON.stringify([commitMs, event.source, event.id, event.type, event.time, event.gatewayId, event.subject ?? null, event.data ?? null])

/** A stored message back to its event; undefined when it is not one of ours. */
export const decodeEvent = (seq: number, payload: string): SequencedEvent | undefined => {
  try {
    const t: unknown = JSON.parse(payload)
    if (!Array.isArray(t) || t.length !== 8) return undefined
    const [commitMs, source, id, type, time, gatewayId, subject, data] = t as Array<unknown>
    if (
      typeof commitMs !== "number" || typeof source !== "string" || typeof id !== "string" || typeof type !== "string" ||
      typeof time !== "string" || typeof gatewayId !== "string" || !(subject === null || typeof subject === "string")
    ) return undefined
    return { seq, commitMs, event: { source, id, type, time, gatewayId, subject: subject ?? undefined, data } }
  } catch {
    return undefined
  }
}
