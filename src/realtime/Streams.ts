/**
 * Open streams of this process: per-user limits, the `realtime_clients` gauge, heartbeats and
 * shutdown. A user's slots are counted by `StreamSlots`, chosen by the bus: in this process
 * (one node), or in a JetStream KV bucket so the limit holds across api nodes (`REALTIME_BUS=nats`).
 * Anonymous (ticker) streams are a per-process pool either way.
 *
 * Built inside the HTTP handler layer on purpose: its finalizer runs before the HTTP server
 * closes, and ends every stream (with `event: end`) — otherwise `server.close()` would wait
 * forever on responses that never finish.
 */
import { Context, Deferred, type Duration, Effect, Layer, Metric, Option, Schedule, type Scope } from "effect"
import * as Metrics from "./Metrics.js"
import { RealtimeSettingsConfig } from "./RealtimeConfig.js"
import type { EndReason } from "./Sse.js"
import { TOPIC_KINDS, type TopicKind } from "./Topics.js"

export interface RegistryOptions {
  readonly maxStreamsPerUser: number
  readonly maxPublicStreams: number
  readonly heartbeat: Duration.DurationInput
}

/** What the registry needs of a stream. */
export interface LiveConnection {
  readonly heartbeat: () => void
  readonly end: (reason: EndReason) => void
}

/** Counts each user's open streams against the per-user limit. */
export class StreamSlots extends Context.Tag("Realtime/StreamSlots")<StreamSlots, {
  /** A slot for one stream of `user`, with the effect that frees it; none when the user is at `limit`. */
  readonly acquire: (user: string, limit: number) => Effect.Effect<Option.Option<Effect.Effect<void>>>
}>() {
  /** This process only. */
  static readonly inMemory = Effect.sync(() => {
    const perUser = new Map<string, number>()
    return StreamSlots.of({
      acquire: (user, limit) =>
        Effect.sync(() => {
          if ((perUser.get(user) ?? 0) >= limit) return Option.none()
          perUser.set(user, (perUser.get(user) ?? 0) + 1)
          return Option.some(Effect.sync(() => {
            const left = (perUser.get(user) ?? 1) - 1
            if (left <= 0) perUser.delete(user)
            else perUser.set(user, left)
          }))
        })
    })
  })

  static readonly InMemory = Layer.effect(StreamSlots, StreamSlots.inMemory)
}

export class StreamRegistry extends Context.Tag("Realtime/StreamRegistry")<StreamRegistry, {
  /**
   * Takes a slot for `connection` until the caller's scope closes; false when `user`
   * (undefined = anonymous) already has its maximum.
   */
  readonly open: (
    user: string | undefined,
    kinds: ReadonlyArray<TopicKind>,
    connection: LiveConnection
  ) => Effect.Effect<boolean, never, Scope.Scope>
  readonly active: Effect.Effect<number>
}>() {
  static readonly make = (options: RegistryOptions, slots?: StreamSlots["Type"]) =>
    slots === undefined
      ? Effect.flatMap(StreamSlots.inMemory, (inMemory) => makeRegistry(options, inMemory))
      : makeRegistry(options, slots)

  /** Needs `StreamSlots` (from the bus layer). */
  static readonly Live = Layer.scoped(
    StreamRegistry,
    Effect.gen(function*() {
      const s = yield* RealtimeSettingsConfig
      const slots = yield* StreamSlots
      return yield* makeRegistry(
        { maxStreamsPerUser: s.maxStreamsPerUser, maxPublicStreams: s.maxPublicStreams, heartbeat: s.heartbeat },
        slots
      )
    })
  )
}

const makeRegistry = (options: RegistryOptions, slots: StreamSlots["Type"]) =>
  Effect.gen(function*() {
    const anonymous = yield* StreamSlots.inMemory
    const perKind = new Map<TopicKind, number>(TOPIC_KINDS.map((kind) => [kind, 0]))
    const connections = new Set<LiveConnection>()
    const idle = yield* Deferred.make<void>()
    let closing = false

    const gauges = (kinds: ReadonlyArray<TopicKind>, delta: 1 | -1) =>
      Effect.forEach(kinds, (kind) => {
        const value = (perKind.get(kind) ?? 0) + delta
        perKind.set(kind, value)
        return Metric.set(Metric.tagged(Metrics.clients, "kind", kind), value)
      }, { discard: true })

    const open = (user: string | undefined, kinds: ReadonlyArray<TopicKind>, connection: LiveConnection) =>
      Effect.uninterruptible(Effect.gen(function*() {
        if (closing) return false
        const slot = user === undefined
          ? yield* anonymous.acquire("anonymous", options.maxPublicStreams)
          : yield* slots.acquire(user, options.maxStreamsPerUser)
        if (Option.isNone(slot)) return false
        connections.add(connection)
        yield* gauges(kinds, 1)
        yield* Effect.addFinalizer(() =>
          Effect.gen(function*() {
            yield* slot.value
            connections.delete(connection)
            yield* gauges(kinds, -1)
            if (closing && connections.size === 0) yield* Deferred.succeed(idle, undefined)
          })
        )
        return true
      }))

    yield* Effect.sync(() => {
      for (const connection of connections) connection.heartbeat()
    }).pipe(Effect.schedule(Schedule.spaced(options.heartbeat)), Effect.forkScoped)

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closing = true
        if (connections.size === 0) return
        yield* Effect.logInfo("closing live streams").pipe(Effect.annotateLogs({ streams: connections.size }))
        for (const connection of connections) connection.end("server_shutdown")
        yield* Deferred.await(idle).pipe(Effect.timeoutOption("5 seconds"))
      })
    )

    return StreamRegistry.of({ open, active: Effect.sync(() => connections.size) })
  })
