/**
 * From an HTTP request (content type, headers, body bytes) to candidate events, following the
 * CloudEvents HTTP protocol binding: structured, batch and binary mode; plus the gateway's
 * bare 60 s telemetry packet as plain JSON, split into candidate events (validated one by one in
 * Validate.ts). Pure functions: no I/O, no clock.
 */
import { Either } from "effect"
import { isUtf8 } from "node:buffer"
import { jsonMayHoldUnstorable, jsonMayOverflow } from "../http/JsonText.js"

export type ContentMode = "structured" | "batch" | "binary" | "telemetry"

/** A request-level problem: the whole request is refused with this status. */
export interface RequestProblem {
  readonly status: 400 | 413 | 415 | 503
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
  /** The JSON it came from had no number that could be beyond a double's range: no need to look. */
  readonly finite?: boolean
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

const notUtf8: RequestProblem = {
  status: 400,
  error: "invalid_utf8",
  message: "the body is not valid UTF-8 (JSON and text bodies must be)",
  field: "body"
}

/**
 * The body as text, refused when it is not UTF-8: decoding would replace each bad byte with
 * U+FFFD, so two different ids could become the same one and the second event be taken for a
 * duplicate and lost.
 */
const utf8Text = (body: Uint8Array): Either.Either<string, RequestProblem> =>
  isUtf8(body) ? Either.right(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8")) : Either.left(notUtf8)

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
    return Either.map(Either.flatMap(utf8Text(body), parseJson), (data) => ({ ...envelope, data }))
  }
  if (media.startsWith("text/")) return Either.map(utf8Text(body), (data) => ({ ...envelope, data }))
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
  const decoded = utf8Text(input.body)
  if (Either.isLeft(decoded)) return Either.left(decoded.left)
  const text = decoded.right
  const storable = !jsonMayHoldUnstorable(text)
  const finite = !jsonMayOverflow(text)
  return Either.flatMap(parseJson(text), (json) => {
    const list = (values: ReadonlyArray<unknown>, wrap: (value: unknown) => unknown) =>
      values.length > input.maxEvents
        ? Either.left(tooMany(values.length))
        : values.length === 0
        ? Either.left<RequestProblem>({ status: 400, error: "empty_batch", message: "the batch holds no events", field: "body" })
        : Either.right(values.map((value, index) => ({ index, value: wrap(value), storable, finite })))
    switch (mode) {
      case "structured":
        return Array.isArray(json)
          ? Either.left<RequestProblem>({
            status: 400,
            error: "unexpected_array",
            message: "application/cloudevents+json carries one event; send arrays as application/cloudevents-batch+json",
            field: "body"
          })
          : Either.right([{ index: 0, value: json, storable, finite }])
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
