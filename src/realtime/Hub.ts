/**
 * The hub: committed batches go into one Effect `PubSub`; the hub's dispatcher fiber, subscribed
 * to it, fans each batch out to the open streams. Beside it, the bounded history behind
 * `Last-Event-ID`.
 *
 * Fan-out is synchronous on purpose. A fiber plus an Effect `Stream` per connection costs about
 * 0.1 ms per message per connection (`Stream.merge`/`interruptWhen` are the expensive parts),
 * which at 1,000 subscribers is 100 ms per batch; writing into each connection's `Sink` from one
 * loop costs a few microseconds. Each batch carries an index topic → positions, so a stream finds
 * its events without scanning the batch, and streams with the same topics share one rendering.
 *
 * A sink refuses a write when its client is too far behind (its send buffer is full); the hub
 * then drops that stream (the client reconnects with its last id and resumes from the history).
 */
import { Clock, Context, Duration, Effect, Layer, Metric, PubSub, Queue, type Scope } from "effect"
import { randomBytes } from "node:crypto"
import type { ResetReason } from "../../schema/api/Realtime.js"
import { type Connection, frameFor, indexByTopic, select } from "./FanOut.js"
import { RESET_REASONS, resetFrame } from "./Frames.js"
import { type Entry, History, parseEventId, type Resume, type SequencedEvent, sequencedEntry } from "./History.js"
import * as Metrics from "./Metrics.js"
import { RealtimeSettingsConfig } from "./RealtimeConfig.js"
import type { LiveEventInput, TopicSet } from "./Topics.js"

/** One write to a stream: one or more SSE messages. */
export interface Outgoing {
  readonly text: string
  /** Event (and reset) messages in `text`. */
  readonly messages: number
  /** Commit time of live events (for the commit → send histogram); undefined for replay and resets. */
  readonly commitMs: number | undefined
}

/** Where a stream's messages go (the HTTP layer implements it over the response). */
export interface Sink {
  /** Queues `out` for the client; false when the client's send buffer is full. Replay is never refused. */
  readonly write: (out: Outgoing, replay: boolean) => boolean
  /**
   * Most bytes a `Last-Event-ID` replay may put in the send buffer (the stream's bound); a
   * longer replay is replaced by a `replay_too_large` reset. Unset: no bound.
   */
  readonly replayLimitBytes?: number
  /** Called once when the hub drops the stream for being too slow: close the connection now. */
  readonly drop: () => void
}

type HubMessage =
  | { readonly _tag: "Batch"; readonly entries: ReadonlyArray<Entry> }
  | { readonly _tag: "Gap"; readonly id: string; readonly seq: number }

/** What a shared log holds after a cursor: its events up to `lastSeq`, or why it cannot say. */
export type BackfillResult =
  | { readonly _tag: "Events"; readonly events: ReadonlyArray<SequencedEvent>; readonly lastSeq: number }
  | { readonly _tag: "Reset"; readonly reason: "cursor_too_old" | "cursor_unknown" | "replay_too_large" }

export interface HubOptions {
  readonly historySize: number
  readonly historyWindow: Duration.DurationInput
  /** The instance part of ids (default: random per process). The NATS bus passes its stream's tag. */
  readonly instanceId?: string
  /**
   * Reads events after a cursor of this instance that the ring does not hold (older than the
   * ring, or newer than this node has seen): the NATS bus reads its stream. Without it such a
   * cursor gets a reset.
   */
  readonly backfill?: (afterSeq: number) => Effect.Effect<BackfillResult>
}

export class RealtimeHub extends Context.Tag("Realtime/Hub")<RealtimeHub, {
  /** 8 hex digits, random per process; part of every event id, and of NOTIFY payloads. */
  readonly instanceId: string
  /** Committed events, in commit order. Returns once queued for fan-out. */
  readonly publish: (events: ReadonlyArray<LiveEventInput>, commitMs: number) => Effect.Effect<void>
  /** Events at their positions in a shared log (the NATS bus's stream sequence), ascending. */
  readonly publishSequenced: (events: ReadonlyArray<SequencedEvent>) => Effect.Effect<void>
  /** Events may have been lost (the cross-process feed broke): resets streams and older cursors. */
  readonly interrupted: Effect.Effect<void>
  /**
   * Writes the replay after `lastEventId` (or a reset) into `sink`, then live events of `topics`
   * until the scope closes or the stream is dropped as slow.
   */
  readonly connect: (topics: TopicSet, lastEventId: string | undefined, sink: Sink) => Effect.Effect<void, never, Scope.Scope>
  /** Open streams. */
  readonly size: Effect.Effect<number>
}>() {
  static readonly make = (options: HubOptions) => makeHub(options)

  static readonly layer = (options: HubOptions) => Layer.scoped(RealtimeHub, makeHub(options))

  static readonly Live = Layer.scoped(
    RealtimeHub,
    Effect.flatMap(RealtimeSettingsConfig, (s) => makeHub({ historySize: s.historySize, historyWindow: s.historyWindow }))
  )
}

const REPLAY_CHUNK = 256

const makeHub = (options: HubOptions) =>
  Effect.gen(function*() {
    const instanceId = options.instanceId ?? randomBytes(4).toString("hex")
    const clock = yield* Effect.clock
    const history = new History(
      instanceId,
      options.historySize,
      Duration.toMillis(Duration.decode(options.historyWindow)),
      yield* Clock.currentTimeMillis
    )
    const pubsub = yield* PubSub.unbounded<HubMessage>()
    // The resets alert and dashboard read these series: they exist at 0 from the start.
    for (const reason of RESET_REASONS) yield* Metric.incrementBy(Metrics.resets.pipe(Metric.tagged("reason", reason)), 0)
    const connections = new Set<Connection>()
    // History order and PubSub order must agree: a stream skips what it already replayed by seq.
    const lock = yield* Effect.makeSemaphore(1)

    const resetOutgoing = (reason: typeof ResetReason.Type, id = history.latestId): Outgoing => ({
      text: resetFrame(id, reason),
      messages: 1,
      commitMs: undefined
    })

    const deliver = (connection: Connection, out: Outgoing): void => {
      if (connection.dropped) return
      if (!connection.sink.write(out, false)) {
        connection.dropped = true
        connections.delete(connection)
        Metrics.slowConsumerDrops.unsafeUpdate(1, [])
        connection.sink.drop()
        return
      }
      Metrics.messagesSent.unsafeUpdate(out.messages, [])
      if (out.commitMs !== undefined) {
        const seconds = Math.max(0, clock.unsafeCurrentTimeMillis() - out.commitMs) / 1000
        for (let i = 0; i < out.messages; i++) Metrics.commitToSend.unsafeUpdate(seconds, [])
      }
    }

    const dispatch = (message: HubMessage): void => {
      if (message._tag === "Gap") {
        // A stream that registered after the gap was marked started past it: nothing was missed.
        const reset = resetOutgoing("stream_interrupted", message.id)
        let affected = 0
        for (const connection of connections) {
          if (connection.afterSeq >= message.seq) continue
          deliver(connection, reset)
          affected += 1
        }
        Metrics.resets.pipe(Metric.tagged("reason", "stream_interrupted")).unsafeUpdate(affected, [])
        return
      }
      if (connections.size === 0) return
      const batch = { entries: message.entries, byTopic: indexByTopic(message.entries) }
      const firstSeq = message.entries[0]?.seq ?? 0
      const commitMs = message.entries[0]?.commitMs
      // Streams that started before this batch and ask for the same topics get the same Outgoing.
      const shared = new Map<string, Outgoing | undefined>()
      for (const connection of connections) {
        const cacheable = connection.afterSeq < firstSeq
        let out = cacheable ? shared.get(connection.shareKey) : undefined
        if (out === undefined && !(cacheable && shared.has(connection.shareKey))) {
          const selected = select(batch, connection)
          out = selected === undefined ? undefined : { ...selected, commitMs }
          if (cacheable) shared.set(connection.shareKey, out)
        }
        if (out !== undefined) deliver(connection, out)
      }
    }

    // Subscribed here, not in the fiber: a batch published before the fiber starts must not be lost.
    const feed = yield* PubSub.subscribe(pubsub)
    yield* Effect.gen(function*() {
      while (true) {
        const messages = yield* Queue.takeBetween(feed, 1, 64)
        for (const message of messages) dispatch(message)
      }
    }).pipe(Effect.forkScoped)

    const publish = (events: ReadonlyArray<LiveEventInput>, commitMs: number) =>
      events.length === 0 ? Effect.void : lock.withPermits(1)(
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const entries = history.append(events, commitMs, now)
          return PubSub.publish(pubsub, { _tag: "Batch", entries })
        })
      )

    const publishSequenced = (items: ReadonlyArray<SequencedEvent>) =>
      items.length === 0 ? Effect.void : lock.withPermits(1)(
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const entries = history.appendSequenced(items, now)
          return entries.length === 0 ? Effect.void : PubSub.publish(pubsub, { _tag: "Batch", entries })
        })
      )

    const interrupted = lock.withPermits(1)(
      Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.suspend(() => {
        const id = history.markGap(now)
        return PubSub.publish(pubsub, { _tag: "Gap", id, seq: history.lastSeq })
      }))
    )

    /**
     * Replay is exempt from the slow-consumer check (it is written at once, before the client
     * could read), so it is bounded here instead: framed in full first, and if it would exceed
     * the stream's send buffer the client gets a reset and reloads through the REST API.
     * False when the replay was replaced by that reset.
     */
    const replay = (connection: Connection, entries: ReadonlyArray<Entry>): boolean => {
      const limit = connection.sink.replayLimitBytes ?? Number.POSITIVE_INFINITY
      const chunks: Array<Outgoing> = []
      let text = ""
      let messages = 0
      let bytes = 0
      const cut = () => {
        if (messages > 0) chunks.push({ text, messages, commitMs: undefined })
        text = ""
        messages = 0
      }
      for (const entry of entries) {
        const frame = frameFor(entry, connection.topics)
        if (frame === undefined) continue
        bytes += Buffer.byteLength(frame, "utf8")
        if (bytes > limit) return false
        text += frame
        messages += 1
        if (messages === REPLAY_CHUNK) cut()
      }
      cut()
      for (const chunk of chunks) {
        connection.sink.write(chunk, true)
        Metrics.messagesSent.unsafeUpdate(chunk.messages, [])
      }
      return true
    }

    /**
     * The resume for a cursor, given what the shared log returned for it (when it was asked):
     * its events, then the ring's from where they stop. `afterSeq`: live entries up to it are skipped.
     */
    const resumeFrom = (
      lastEventId: string | undefined,
      fetched: BackfillResult | undefined,
      now: number
    ): { readonly resume: Resume; readonly afterSeq: number } => {
      if (fetched === undefined) return { resume: history.resume(lastEventId, now), afterSeq: history.lastSeq }
      if (fetched._tag === "Reset") return { resume: fetched, afterSeq: history.lastSeq }
      // The ring moved on past what was fetched, leaving a hole between them: rare (a burst during the fetch).
      if (history.lastSeq > fetched.lastSeq && history.firstSeq > fetched.lastSeq + 1) {
        return { resume: { _tag: "Reset", reason: "cursor_too_old" }, afterSeq: history.lastSeq }
      }
      const entries = [...fetched.events.map((item) => sequencedEntry(instanceId, item)), ...history.entriesAfter(fetched.lastSeq)]
      return { resume: { _tag: "Replay", entries }, afterSeq: Math.max(history.lastSeq, fetched.lastSeq) }
    }

    /** A cursor of this instance that the ring cannot serve is looked up in the shared log first (if there is one). */
    const prefetch = (lastEventId: string | undefined, now: number): Effect.Effect<BackfillResult | undefined> => {
      const backfill = options.backfill
      if (backfill === undefined || lastEventId === undefined) return Effect.succeed(undefined)
      const id = parseEventId(lastEventId)
      if (id === undefined || id.instance !== instanceId) return Effect.succeed(undefined)
      if (history.resume(lastEventId, now)._tag === "Replay") return Effect.succeed(undefined)
      return backfill(id.seq)
    }

    const connect = (topics: TopicSet, lastEventId: string | undefined, sink: Sink) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.flatMap(prefetch(lastEventId, now), (fetched) =>
          Effect.acquireRelease(
            Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Effect.sync(() => {
                // One synchronous step: nothing can be dispatched between the replay and the registration.
                const { afterSeq, resume } = resumeFrom(lastEventId, fetched, now)
                const fullKeys = [...[...topics.gateways].map((g) => `vendor:${g}`), ...[...topics.agents].map((a) => `agent:${a}`)]
                const connection: Connection = {
                  topics,
                  fullKeys,
                  shareKey: `${topics.ticker ? "ticker|" : ""}${[...fullKeys].sort().join("|")}`,
                  sink,
                  afterSeq,
                  dropped: false
                }
                if (resume._tag === "Reset") {
                  sink.write(resetOutgoing(resume.reason), true)
                  Metrics.resets.pipe(Metric.tagged("reason", resume.reason)).unsafeUpdate(1, [])
                } else if (resume._tag === "Replay" && !replay(connection, resume.entries)) {
                  sink.write(resetOutgoing("replay_too_large"), true)
                  Metrics.resets.pipe(Metric.tagged("reason", "replay_too_large")).unsafeUpdate(1, [])
                }
                connections.add(connection)
                return connection
              })
            ),
            (connection) => Effect.sync(() => void connections.delete(connection))
          )))

    return RealtimeHub.of({ instanceId, publish, publishSequenced, interrupted, connect, size: Effect.sync(() => connections.size) })
  })
