/**
 * What flows through the pipeline: a validated event bound to the gateway that sent it.
 * Plain data (no classes) so it serialises into the journal and across processes unchanged.
 */
import { Either } from "effect"
import { isEventType, type KnownData } from "../../schema/index.js"
import { decodeKnownData } from "./FastEvents.js"

export interface IngestEvent {
  readonly source: string
  readonly id: string
  readonly type: string
  /** Event time as sent (RFC 3339) — or the receive time for unknown types without `time`. It is
   * the partition column, so a retry carries the same value and is recognised as a duplicate. */
  readonly time: string
  readonly timeMs: number
  readonly receivedAt: number
  /** The authenticated gateway; for known types equal to `data.gateway_id`. */
  readonly gatewayId: string
  readonly subject: string | undefined
  /** Envelope attributes other than `data` (extensions flattened in), for the raw log. */
  readonly attributes: Readonly<Record<string, unknown>>
  readonly data: unknown
  /** Type and decoded data for known types; `undefined` for types stored raw only. */
  readonly known: KnownData | undefined
}

/** The CloudEvents Distributed Tracing extension, when the event carries one. */
export const traceparentOf = (event: IngestEvent): string | undefined => {
  const value = event.attributes["traceparent"]
  return typeof value === "string" ? value : undefined
}

/** Identity of an event for deduplication: CloudEvents `source` + `id`. */
export const eventKey = (event: { readonly source: string; readonly id: string }): string =>
  `${event.source}\u0000${event.id}`

/** Stream a type's events into its own writer; unknown types share the raw-only route. */
export type Route = KnownData["type"] | "Other"

export const routeOf = (event: IngestEvent): Route => event.known?.type ?? "Other"

export const ROUTES: ReadonlyArray<Route> = [
  "PaymentAuthorized",
  "RequestBlocked",
  "SolvencyAlert",
  "PaymentIntent",
  "GatewayTelemetryPacket",
  "Other"
]

/** The events of one request share their receive time: its text is made once. */
let isoCache = { ms: Number.NaN, text: "" }
const isoOf = (ms: number): string => {
  if (ms !== isoCache.ms) isoCache = { ms, text: new Date(ms).toISOString() }
  return isoCache.text
}

/**
 * An event as one flat row — the store's batch row (`jsonb_to_recordset`; typed columns are
 * read from `data` in SQL) and, as JSON, the journal record. A fixed-shape object literal:
 * `JSON.stringify` of an array of these is the fastest way to the batch text.
 */
export const eventRow = (event: IngestEvent): Row => ({
  event_time: event.time,
  source: event.source,
  id: event.id,
  type: event.type,
  gateway_id: event.gatewayId,
  subject: event.subject ?? null,
  received_at: isoOf(event.receivedAt),
  attributes: event.attributes,
  data: event.data ?? null
})

/**
 * The event's row as JSON text: the journal record, and the event's element of the store's batch
 * parameter. Encoded once, at admission (Admission.ts), and carried with the event from there.
 * Throws (RangeError) only for values JSON cannot encode (nesting beyond the stack).
 */
export const encodedRow = (event: IngestEvent): string => JSON.stringify(eventRow(event))

/** Journal record of an event: its row (the typed copy of `data` is decoded again on read-back). */
export const encodeEvent = (event: IngestEvent): Uint8Array => Buffer.from(encodedRow(event))

export interface Row {
  readonly event_time: string
  readonly source: string
  readonly id: string
  readonly type: string
  readonly gateway_id: string
  readonly subject: string | null
  readonly received_at: string
  readonly attributes: Readonly<Record<string, unknown>>
  readonly data: unknown
}

/**
 * Reads a journal record back (rows; or whole events, as earlier versions wrote them). Its
 * data was valid when it was accepted; should it no longer be (a schema changed between
 * versions), the event keeps its raw log row rather than being lost.
 */
export const decodeEvent = (payload: Uint8Array): IngestEvent => decodeRow(Buffer.from(payload).toString("utf8"))

/** `decodeEvent` of a record already in text (an ingest stream message's line). */
export const decodeRow = (text: string): IngestEvent => {
  const parsed = JSON.parse(text) as Row | Omit<IngestEvent, "known">
  const event: Omit<IngestEvent, "known"> = "event_time" in parsed
    ? {
      source: parsed.source,
      id: parsed.id,
      type: parsed.type,
      time: parsed.event_time,
      timeMs: Date.parse(parsed.event_time),
      receivedAt: Date.parse(parsed.received_at),
      gatewayId: parsed.gateway_id,
      subject: parsed.subject ?? undefined,
      attributes: parsed.attributes,
      data: parsed.data ?? undefined
    }
    : parsed
  const known = isEventType(event.type) ? Either.getOrUndefined(decodeKnownData(event.type, event.data)) : undefined
  return { ...event, known }
}
