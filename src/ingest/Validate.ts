/**
 * One candidate event against who sent it: the CloudEvent envelope and the known types' data
 * (FastEvents.ts), text PostgreSQL cannot store, a `source` and `data.gateway_id` that belong to
 * the sending gateway, and a time inside the accepted window. Pure: callers pass `now`.
 */
import { Either, Option } from "effect"
import { describeParseError, rfc3339ToEpochMillis } from "../../schema/index.js"
import type { Candidate, Rejection } from "./Decode.js"
import { decodeCloudEvent, validateKnownEvent } from "./FastEvents.js"
import type { IngestEvent } from "./IngestEvent.js"
import { overflowingNumberAt, unstorableTextAt } from "../http/JsonText.js"

export interface ValidationContext {
  readonly gatewayId: string
  readonly now: number
  readonly maxAgeMs: number
  readonly maxSkewMs: number
}

/**
 * The `source` a gateway may use: its own URI, `machpay://gateway/<id>`, or a sub-path of it
 * (`machpay://gateway/<id>/metrics`). `source` + `id` is the duplicate key, so a source that
 * another gateway could also claim would let it turn that gateway's events into duplicates.
 */
export const gatewaySource = (gatewayId: string): string => `machpay://gateway/${gatewayId}`

export const isOwnSource = (source: string, gatewayId: string): boolean => {
  const own = gatewaySource(gatewayId)
  if (!source.startsWith(own)) return false
  // Exactly the gateway's URI, or a non-empty sub-path: `gw-1` must not claim `gw-10`.
  return source.length === own.length || (source[own.length] === "/" && source.length > own.length + 1)
}

/** Why `timeMs` is outside the accepted window, or undefined when it is inside. */
const outsideWindow = (timeMs: number, context: ValidationContext): string | undefined =>
  timeMs < context.now - context.maxAgeMs
    ? `is older than the accepted window (${Math.round(context.maxAgeMs / 3_600_000)} h)`
    : timeMs > context.now + context.maxSkewMs
    ? `is too far in the future (more than ${Math.round(context.maxSkewMs / 1000)} s ahead)`
    : undefined

const str = (value: unknown, key: string): string | undefined => {
  if (typeof value !== "object" || value === null) return undefined
  const field: unknown = (value as Record<string, unknown>)[key]
  return typeof field === "string" ? field : undefined
}

/** A candidate's rejection, naming what it could of the event (made only when one is refused). */
const rejection = (
  candidate: Candidate,
  field: string,
  reason: string,
  extra: Partial<Rejection> = {}
): Either.Either<IngestEvent, Rejection> => {
  const identity: { index: number; id?: string; source?: string; type?: string } = { index: candidate.index }
  for (const key of ["id", "source", "type"] as const) {
    const found = str(candidate.value, key)
    if (found !== undefined) identity[key] = found
  }
  return Either.left({
    ...identity,
    field: candidate.bare && field === "time" ? "data.window_start" : field,
    reason,
    payload: candidate.value,
    ...extra
  })
}

/** One candidate → a validated event, or a rejection naming the field. */
export const validateCandidate = (
  candidate: Candidate,
  context: ValidationContext
): Either.Either<IngestEvent, Rejection> => {
  const { value } = candidate
  const badText = candidate.storable === true ? undefined : unstorableTextAt(value)
  if (badText !== undefined) {
    return rejection(candidate, badText, "contains a NUL character or an unpaired UTF-16 surrogate, which cannot be stored")
  }
  const overflow = candidate.finite === true ? undefined : overflowingNumberAt(value)
  if (overflow !== undefined) {
    return rejection(
      candidate,
      overflow,
      "is a number beyond ±1.8e308, the range of a 64-bit float; it cannot be stored as sent (send it as a string)"
    )
  }
  const envelope = decodeCloudEvent(value)
  if (Either.isLeft(envelope)) {
    const issue = describeParseError(envelope.left)
    return rejection(candidate, issue.field, issue.reason)
  }
  const event = envelope.right
  if (!isOwnSource(event.source, context.gatewayId)) {
    return rejection(
      candidate,
      "source",
      `source "${event.source}" is not this gateway's: an event of gateway "${context.gatewayId}" must have source ` +
        `"${gatewaySource(context.gatewayId)}" or a sub-path of it ("${gatewaySource(context.gatewayId)}/...")`,
      { foreignGateway: true }
    )
  }
  const known = validateKnownEvent(event)
  if (Either.isLeft(known)) {
    const issue = describeParseError(known.left)
    return rejection(candidate, issue.field, issue.reason)
  }
  const typed = Option.getOrUndefined(known.right)
  if (typed && typed.data.gateway_id !== context.gatewayId) {
    return rejection(
      candidate,
      "data.gateway_id",
      `gateway_id "${typed.data.gateway_id}" does not match the gateway of the ingest key ("${context.gatewayId}")`,
      { foreignGateway: true }
    )
  }
  const time = event.time ?? new Date(context.now).toISOString()
  const timeMs = Date.parse(time)
  const late = outsideWindow(timeMs, context)
  if (late !== undefined) return rejection(candidate, "time", late)
  // A packet's window, not its envelope time, decides its partition and rollup bucket: a window
  // in 1970 or 9999 would land in the default partition (never dropped) and a bucket of its own.
  if (typed?.type === "GatewayTelemetryPacket") {
    const windowIssue = outsideWindow(rfc3339ToEpochMillis(typed.data.window_start), context)
    if (windowIssue !== undefined) return rejection(candidate, "data.window_start", windowIssue)
  }
  const { data, data_base64, extensions, ...attributes } = event
  return Either.right({
    source: event.source,
    id: event.id,
    type: event.type,
    time,
    timeMs,
    receivedAt: context.now,
    gatewayId: context.gatewayId,
    subject: event.subject,
    attributes: { ...attributes, ...extensions, ...(data_base64 === undefined ? {} : { data_base64 }) },
    data,
    known: typed && { type: typed.type, data: typed.data } as IngestEvent["known"]
  })
}
