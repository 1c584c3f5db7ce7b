/**
 * The ingest stream port (`INGEST_DURABILITY=jetstream`): where a receiver puts admitted events
 * before it answers 202, and where every receiver's writers take them from. `IngestStreamLive`
 * (NATS JetStream, IngestStreamLive.ts) is the real one; `IngestStreamInMemory` (here) backs
 * unit tests of its callers.
 *
 *   message  one per route and gateway of a request (at most MAX_ROWS rows, ~MAX_MESSAGE_BYTES):
 *            the events' rows as encoded at admission, one per line (JSON text has no raw
 *            newline), so nothing is encoded again on either side; `Nats-Msg-Id` = hash of the
 *            events' keys, so a publish retried within 2 minutes is stored once
 */
import { Context, Data, Duration, Effect, Layer, Stream } from "effect"
import { createHash } from "node:crypto"
import type { Route } from "../IngestEvent.js"

export class IngestStreamUnavailable extends Data.TaggedError("IngestStreamUnavailable")<{ readonly message: string }> {}

/** One delivery of a stored message to this receiver's writers. */
export interface Delivery {
  /** The message's stream sequence: the same on every delivery of it. */
  readonly seq: number
  /** 1 on the first delivery. */
  readonly deliveryCount: number
  readonly payload: string
  /** Done with it: never delivered again. */
  readonly ack: Effect.Effect<void, IngestStreamUnavailable>
  /** Never to be delivered again (dead-lettered): unreadable, or every event refused. */
  readonly term: (reason: string) => Effect.Effect<void>
  /** Deliver it again (to any writer) after `delay`. */
  readonly nak: (delay: Duration.Duration) => Effect.Effect<void>
}

export interface Admitted {
  readonly route: Route
  readonly gatewayId: string
  readonly key: string
  /** UTF-8 JSON, one line. */
  readonly row: Uint8Array
}

export class IngestStream extends Context.Tag("Ingest/IngestStream")<IngestStream, {
  /** Largest row a message can carry (the server's max payload, less room for headers). */
  readonly maxRowBytes: number
  /** Stores the events (all or none, as far as the caller knows); succeeds once the stream has them. */
  readonly append: (events: ReadonlyArray<Admitted>) => Effect.Effect<void, IngestStreamUnavailable>
  /** One pull: up to `max` deliveries as they come; ends after a short wait when fewer are there. */
  readonly pull: (max: number) => Stream.Stream<Delivery, IngestStreamUnavailable>
  /** Why the stream is unwell now, if it is (for `/health`). */
  readonly problem: Effect.Effect<string | undefined>
}>() {}

export const MAX_ROWS = 1000
export const MAX_MESSAGE_BYTES = 512 * 1024

export interface OutgoingMessage {
  readonly route: Route
  readonly gatewayId: string
  /** The rows, one per line. */
  readonly data: Buffer
  readonly msgID: string
}

const NEWLINE = Buffer.from("\n")

/** Rows joined by newlines, `size` bytes in all. */
const lines = (rows: ReadonlyArray<Uint8Array>, size: number): Buffer =>
  Buffer.concat(rows.flatMap((row, i) => (i === 0 ? [row] : [NEWLINE, row])), size)

/**
 * A request's admitted events → messages: grouped by route and gateway (first-seen order), split
 * by count and by size in UTF-8 bytes (at most `maxBytes`, or one row alone if it is larger; the
 * caller's limit on a row keeps that under the server's max payload). Sizes were counted in
 * UTF-16 units: a group of CJK text could be three times the limit and be refused by the server
 * as a whole, so the request was answered 503 at every retry.
 */
export const encodeMessages = (events: ReadonlyArray<Admitted>, maxBytes = MAX_MESSAGE_BYTES): Array<OutgoingMessage> => {
  const out: Array<OutgoingMessage> = []
  const open = new Map<string, { route: Route; gatewayId: string; rows: Array<Uint8Array>; bytes: number; hash: ReturnType<typeof createHash> }>()
  const close = (group: string) => {
    const g = open.get(group)
    if (g === undefined) return
    open.delete(group)
    out.push({ route: g.route, gatewayId: g.gatewayId, data: lines(g.rows, g.bytes - 1), msgID: g.hash.digest("hex").slice(0, 40) })
  }
  for (const e of events) {
    const group = `${e.route}\u0000${e.gatewayId}`
    const current = open.get(group)
    const bytes = e.row.length + 1
    if (current !== undefined && (current.rows.length >= MAX_ROWS || current.bytes + bytes > maxBytes)) close(group)
    let g = open.get(group)
    if (g === undefined) {
      g = { route: e.route, gatewayId: e.gatewayId, rows: [], bytes: 0, hash: createHash("sha256") }
      open.set(group, g)
    }
    g.rows.push(e.row)
    g.bytes += bytes
    g.hash.update(e.key).update("\u0001")
  }
  for (const group of [...open.keys()]) close(group)
  return out
}

/** A message's rows (empty lines, which we never write, are skipped). */
export const rowsOf = (payload: string): Array<string> => payload.split("\n").filter((line) => line.length > 0)

export interface InMemoryIngestStream {
  /** Messages stored and not yet acknowledged or terminated, by sequence. */
  readonly stored: Map<number, { readonly data: string; deliveries: number; inFlight: boolean }>
  readonly terminated: Array<{ readonly seq: number; readonly reason: string }>
  /** While set, `append` fails with it. */
  failure: string | undefined
  /** What a lapsed ack wait does: every delivered, unacknowledged message may be delivered again. */
  readonly expireDeliveries: () => void
}

export class IngestStreamInMemoryState extends Context.Tag("Ingest/IngestStreamInMemoryState")<IngestStreamInMemoryState, InMemoryIngestStream>() {}

/** The port in memory: messages in a map, deliveries in sequence order, no ack wait (see `expireDeliveries`). */
export const IngestStreamInMemory = Layer.effectContext(
  Effect.sync(() => {
    let nextSeq = 1
    const state: InMemoryIngestStream = {
      stored: new Map(),
      terminated: [],
      failure: undefined,
      expireDeliveries: () => {
        for (const m of state.stored.values()) m.inFlight = false
      }
    }
    const delivery = (seq: number, m: { data: string; deliveries: number; inFlight: boolean }): Delivery => ({
      seq,
      deliveryCount: m.deliveries,
      payload: m.data,
      ack: Effect.sync(() => void state.stored.delete(seq)),
      term: (reason) =>
        Effect.sync(() => {
          if (state.stored.delete(seq)) state.terminated.push({ seq, reason })
        }),
      nak: () => Effect.sync(() => void (m.inFlight = false))
    })
    const service = IngestStream.of({
      maxRowBytes: 1024 * 1024,
      append: (events) =>
        Effect.suspend(() => {
          if (state.failure !== undefined) return Effect.fail(new IngestStreamUnavailable({ message: state.failure }))
          for (const m of encodeMessages(events)) state.stored.set(nextSeq++, { data: m.data.toString("utf8"), deliveries: 0, inFlight: false })
          return Effect.void
        }),
      pull: (max) =>
        Stream.suspend(() => {
          const out: Array<Delivery> = []
          for (const [seq, m] of state.stored) {
            if (out.length >= max) break
            if (m.inFlight) continue
            m.inFlight = true
            m.deliveries += 1
            out.push(delivery(seq, m))
          }
          // An empty pull waits a little, as a real one does, so a consumer loop does not spin.
          return out.length > 0 ? Stream.fromIterable(out) : Stream.fromEffect(Effect.sleep(Duration.millis(10))).pipe(Stream.drain)
        }),
      problem: Effect.sync(() => state.failure)
    })
    return Context.make(IngestStream, service).pipe(Context.add(IngestStreamInMemoryState, state))
  })
)
