/**
 * What flows through the pipeline: a validated event bound to the gateway that sent it.
 * Plain data (no classes) so it serialises into the journal and across processes unchanged.
 */
import { Either } from "effect"
import { decodeKnownData, isEventType, type KnownData } from "../../schema/index.js"

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

/**
 * Journal record of an event: JSON without the typed copy of `data` (`known`), which is
 * decoded again on the rare read-back instead of being written twice on every append.
 */
export const encodeEvent = (event: IngestEvent): Uint8Array => Buffer.from(JSON.stringify({ ...event, known: undefined }))

/**
 * Reads a journal record back. Its data was valid when it was accepted; should it no longer be
 * (a schema changed between versions), the event keeps its raw log row rather than being lost.
 */
export const decodeEvent = (payload: Uint8Array): IngestEvent => {
  const event = JSON.parse(Buffer.from(payload).toString("utf8")) as Omit<IngestEvent, "known">
  const known = isEventType(event.type) ? Either.getOrUndefined(decodeKnownData(event.type, event.data)) : undefined
  return { ...event, known }
}
