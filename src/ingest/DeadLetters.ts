/**
 * Rejected events go to the `dead_letters` table in the background, batched. The buffer is
 * bounded: if the database is away long enough to fill it, the oldest rows are dropped and
 * counted (the sender already got each rejection, with its reason, in the response).
 */
import { Chunk, Context, Effect, Layer, Metric, Queue, Schedule, Stream } from "effect"
import type { Rejection } from "./Decode.js"
import { abandonAfter, type DeadLetter, EventStore } from "./EventStore.js"
import { IngestSettingsConfig } from "./IngestConfig.js"
import type { IngestEvent } from "./IngestEvent.js"

const dropped = Metric.counter("ingest_dead_letters_dropped_total", {
  description: "Dead letters dropped because the buffer was full while the database was unreachable",
  incremental: true
})

/** An admitted event's dead-letter entry (refused at the door, or by the database after its acknowledgement). */
export const rejectionOf = (event: IngestEvent, index: number, field: string, reason: string, payload: unknown): Rejection => ({
  index,
  id: event.id,
  source: event.source,
  type: event.type,
  reason,
  field,
  payload
})

export class DeadLetters extends Context.Tag("Ingest/DeadLetters")<DeadLetters, {
  readonly record: (gatewayId: string | undefined, rejections: ReadonlyArray<Rejection>, receivedAt: number) => Effect.Effect<void>
}>() {}

/** A copy with everything below `depth` levels replaced by a marker (recursion bounded by `depth`). */
const pruned = (value: unknown, depth: number): unknown => {
  if (typeof value !== "object" || value === null) return value
  if (depth <= 0) return "[nested deeper than kept]"
  if (Array.isArray(value)) return value.map((inner) => pruned(inner, depth - 1))
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, pruned(inner, depth - 1)]))
}

/** Payload text, never throwing: what `JSON.stringify` cannot encode (too deep) is kept pruned. */
const textOf = (payload: unknown): string => {
  if (typeof payload === "string") return payload
  try {
    return JSON.stringify(payload) ?? String(payload)
  } catch {
    return JSON.stringify(pruned(payload, 32))
  }
}

const truncate = (payload: unknown, max: number): { readonly text: string; readonly bytes: number } => {
  const text = textOf(payload)
  const bytes = Buffer.byteLength(text)
  return { text: bytes <= max ? text : Buffer.from(text).subarray(0, max).toString("utf8"), bytes }
}

/**
 * The row's text columns are bounded too: a rejection's id, source or type is what was sent (an
 * over-long id is the very thing refused), and a reason may quote the database.
 */
const MAX_TEXT = 1024
const clip = (text: string | undefined): string | undefined =>
  text === undefined || text.length <= MAX_TEXT ? text : `${text.slice(0, MAX_TEXT - 1)}…`

export const DeadLettersLive = Layer.scoped(
  DeadLetters,
  Effect.gen(function*() {
    const settings = yield* IngestSettingsConfig
    const store = yield* EventStore
    const queue = yield* Queue.sliding<DeadLetter>(50_000)
    yield* Metric.incrementBy(dropped, 0) // the series exists before the first drop (alerts use its rate)
    yield* Stream.fromQueue(queue).pipe(
      Stream.groupedWithin(500, "1 second"),
      Stream.mapEffect((rows) =>
        store.deadLetter(Chunk.toReadonlyArray(rows)).pipe(
          abandonAfter(settings.writeTimeout),
          Effect.retry(Schedule.exponential("100 millis").pipe(Schedule.union(Schedule.spaced("5 seconds"))))
        )
      ),
      Stream.runDrain,
      Effect.forkScoped
    )
    // Flush what is buffered on shutdown (bounded: the database may be the reason we stop).
    yield* Effect.addFinalizer(() =>
      Queue.takeAll(queue).pipe(
        Effect.flatMap((rows) => abandonAfter(settings.writeTimeout)(store.deadLetter(Chunk.toReadonlyArray(rows)))),
        Effect.interruptible,
        Effect.timeoutOption("5 seconds"),
        Effect.ignore
      )
    )
    return {
      record: (gatewayId, rejections, receivedAt) =>
        Effect.gen(function*() {
          const rows = rejections.map((rejection): DeadLetter => {
            const payload = truncate(rejection.payload, settings.deadLetterMaxPayloadBytes)
            return {
              receivedAt,
              gatewayId,
              source: clip(rejection.source),
              eventId: clip(rejection.id),
              type: clip(rejection.type),
              reason: clip(rejection.reason)!,
              field: clip(rejection.field),
              payload: payload.text,
              payloadBytes: payload.bytes
            }
          })
          const before = yield* Queue.size(queue)
          yield* Queue.offerAll(queue, rows)
          const overflow = before + rows.length - 50_000
          if (overflow > 0) yield* Metric.incrementBy(dropped, overflow)
        })
    }
  })
)
