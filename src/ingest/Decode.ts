/**
 * From an HTTP request (content type, headers, body bytes) to validated events, following the
 * CloudEvents HTTP protocol binding: structured, batch and binary mode; plus the gateway's
 * bare 60 s telemetry packet as plain JSON. Pure functions: no I/O, no clock (callers pass `now`).
 */
import { Either, Option } from "effect"
import { describeParseError, rfc3339ToEpochMillis } from "../../schema/index.js"
import { decodeCloudEvent, validateKnownEvent } from "./FastEvents.js"
import type { IngestEvent } from "./IngestEvent.js"
import { jsonMayHoldUnstorable, unstorableTextAt } from "./Text.js"

export type ContentMode = "structured" | "batch" | "binary" | "telemetry"

/** A request-level problem: the whole request is refused with this status. */
export interface RequestProblem {
  readonly status: 400 | 413 | 415
  readonly error: string
  readonly message: string
  readonly field?: string
}

export interface Rejection {
  readonly index: number
  readonly id?: string
  readonly source?: string
  readonly type?: string
  readonly reason: string
  readonly field: string
  /** The offending input, for the dead-letter table. */
  readonly payload: unknown
  /** True when the event spoke for another gateway (all such → 403). */
  readonly foreignGateway?: boolean
}

export interface Candidate {
  readonly index: number
  readonly value: unknown
  /** A bare telemetry packet we wrapped: its `time` is the packet's `window_start`. */
  readonly bare?: boolean
  /** The JSON it came from had no escape that could hide unstorable text: no need to look. */
  readonly storable?: boolean
}

const mediaType = (contentType: string | undefined): string =>
  (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? ""

const isJsonMedia = (media: string): boolean => media === "application/json" || media.endsWith("+json")

export const contentModeOf = (
  contentType: string | undefined,
  headers: Readonly<Record<string, string | undefined>>
): Either.Either<ContentMode, RequestProblem> => {
  const media = mediaType(contentType)
  if (media === "application/cloudevents+json") return Either.right("structured")
  if (media === "application/cloudevents-batch+json") return Either.right("batch")
  if (headers["ce-specversion"] !== undefined) return Either.right("binary")
  if (media === "application/json") return Either.right("telemetry")
  return Either.left({
    status: 415,
    error: "unsupported_media_type",
    message: `unsupported content type "${media || "(none)"}"; use application/cloudevents+json, ` +
      "application/cloudevents-batch+json, binary mode (ce-* headers) or application/json for a telemetry packet",
    field: "content-type"
  })
}

const parseJson = (body: string): Either.Either<unknown, RequestProblem> => {
  try {
    return Either.right(JSON.parse(body))
  } catch (error) {
    return Either.left({
      status: 400,
      error: "invalid_json",
      message: `body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
      field: "body"
    })
  }
}

/** Header values of binary mode are percent-encoded (CloudEvents HTTP binding §3.1.3.2). */
const headerValue = (value: string): string => {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

const binaryEnvelope = (
  contentType: string | undefined,
  headers: Readonly<Record<string, string | undefined>>,
  body: Uint8Array
): Either.Either<unknown, RequestProblem> => {
  const envelope: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && name.startsWith("ce-") && name.length > 3) envelope[name.slice(3)] = headerValue(value)
  }
  const media = mediaType(contentType)
  if (contentType) envelope["datacontenttype"] = contentType
  if (body.byteLength === 0) return Either.right(envelope)
  if (isJsonMedia(media)) {
    return Either.map(parseJson(Buffer.from(body).toString("utf8")), (data) => ({ ...envelope, data }))
  }
  if (media.startsWith("text/")) return Either.right({ ...envelope, data: Buffer.from(body).toString("utf8") })
  return Either.right({ ...envelope, data_base64: Buffer.from(body).toString("base64") })
}

/** A bare packet becomes a CloudEvent; its id is stable across retries (packet_id or window). */
export const wrapTelemetryPacket = (packet: unknown, gatewayId: string): unknown => {
  const record = typeof packet === "object" && packet !== null && !Array.isArray(packet)
    ? packet as Record<string, unknown>
    : undefined
  const windowStart = typeof record?.["window_start"] === "string" ? record["window_start"] : undefined
  const packetId = typeof record?.["packet_id"] === "string" ? record["packet_id"] : undefined
  return {
    specversion: "1.0",
    id: packetId ?? `telemetry-${windowStart ?? "unknown"}`,
    source: `machpay://gateway/${gatewayId}/metrics`,
    type: "GatewayTelemetryPacket",
    ...(windowStart === undefined ? {} : { time: windowStart }),
    datacontenttype: "application/json",
    data: packet
  }
}

/** Splits the body into candidate events according to the content mode. */
export const candidatesOf = (
  mode: ContentMode,
  input: {
    readonly contentType: string | undefined
    readonly headers: Readonly<Record<string, string | undefined>>
    readonly body: Uint8Array
    readonly gatewayId: string
    readonly maxEvents: number
  }
): Either.Either<ReadonlyArray<Candidate>, RequestProblem> => {
  const tooMany = (count: number): RequestProblem => ({
    status: 413,
    error: "too_many_events",
    message: `the request holds ${count} events; the limit is ${input.maxEvents} per request (INGEST_MAX_EVENTS_PER_REQUEST)`,
    field: "body"
  })
  if (mode === "binary") {
    return Either.map(binaryEnvelope(input.contentType, input.headers, input.body), (value) => [{ index: 0, value }])
  }
  const text = Buffer.from(input.body).toString("utf8")
  const storable = !jsonMayHoldUnstorable(text)
  return Either.flatMap(parseJson(text), (json) => {
    const list = (values: ReadonlyArray<unknown>, wrap: (value: unknown) => unknown) =>
      values.length > input.maxEvents
        ? Either.left(tooMany(values.length))
        : values.length === 0
        ? Either.left<RequestProblem>({ status: 400, error: "empty_batch", message: "the batch holds no events", field: "body" })
        : Either.right(values.map((value, index) => ({ index, value: wrap(value), storable })))
    switch (mode) {
      case "structured":
        return Array.isArray(json)
          ? Either.left<RequestProblem>({
            status: 400,
            error: "unexpected_array",
            message: "application/cloudevents+json carries one event; send arrays as application/cloudevents-batch+json",
            field: "body"
          })
          : Either.right([{ index: 0, value: json, storable }])
      case "batch":
        return Array.isArray(json)
          ? list(json, (value) => value)
          : Either.left<RequestProblem>({
            status: 400,
            error: "expected_array",
            message: "application/cloudevents-batch+json must be a JSON array of events",
            field: "body"
          })
      case "telemetry":
        return Either.map(
          list(Array.isArray(json) ? json : [json], (value) => wrapTelemetryPacket(value, input.gatewayId)),
          (candidates) => candidates.map((candidate) => ({ ...candidate, bare: true }))
        )
    }
  })
}

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
