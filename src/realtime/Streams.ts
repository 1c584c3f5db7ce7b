/**
 * Open streams of this process: per-user limits, the `realtime_clients` gauge, heartbeats and
 * shutdown.
 *
 * Built inside the HTTP handler layer on purpose: its finalizer runs before the HTTP server
 * closes, and ends every stream (with `event: end`) — otherwise `server.close()` would wait
 * forever on responses that never finish.
 */
import { Context, Deferred, type Duration, Effect, Layer, Metric, Schedule, type Scope } from "effect"
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
  static readonly make = (options: RegistryOptions) => makeRegistry(options)

  static readonly Live = Layer.scoped(
    StreamRegistry,
    Effect.flatMap(RealtimeSettingsConfig, (s) =>
      makeRegistry({ maxStreamsPerUser: s.maxStreamsPerUser, maxPublicStreams: s.maxPublicStreams, heartbeat: s.heartbeat }))
  )
}

const ANONYMOUS = "\u0000anonymous"

const makeRegistry = (options: RegistryOptions) =>
  Effect.gen(function*() {
    const perUser = new Map<string, number>()
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
        const key = user ?? ANONYMOUS
        const limit = user === undefined ? options.maxPublicStreams : options.maxStreamsPerUser
        if (closing || (perUser.get(key) ?? 0) >= limit) return false
        perUser.set(key, (perUser.get(key) ?? 0) + 1)
        connections.add(connection)
        yield* gauges(kinds, 1)
        yield* Effect.addFinalizer(() =>
          Effect.gen(function*() {
            const left = (perUser.get(key) ?? 1) - 1
            if (left <= 0) perUser.delete(key)
            else perUser.set(key, left)
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
