/**
 * CloudEvents 1.0 envelope, JSON structured mode (also what the server builds
 * from `ce-*` headers in binary mode).
 *
 * Wire shape: flat object, extension attributes are extra top-level keys.
 * Decoded shape: the same attributes plus `extensions`, a map of every
 * extension except `traceparent`, which has its own typed field.
 */
import { Either, type ParseResult, Schema } from "effect"
import { Matching, Str } from "./Primitives.js"
import { Rfc3339 } from "./Time.js"

export const EXTENSION_NAME_PATTERN = /^[a-z0-9]{1,20}$/
export const TRACEPARENT_PATTERN = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const INT32_MIN = -2147483648
const INT32_MAX = 2147483647

const opt = <S extends Schema.Schema.AnyNoContext>(schema: S) => Schema.optionalWith(schema, { exact: true })

/**
 * Byte limits (UTF-8) of the envelope's text attributes. They protect storage and the btree
 * indexes (`source` + `id` key every event table, `type` the raw log's type index): PostgreSQL
 * refuses an index row over ~2704 bytes, and a character limit lets a multi-byte string grow
 * past it, so the limits are in bytes.
 */
export const ENVELOPE_BYTE_LIMITS = {
  id: 512,
  source: 512,
  type: 256,
  subject: 1024,
  datacontenttype: 256,
  dataschema: 2048
} as const

/** UTF-8 length without encoding (a lone surrogate counts 3, as its U+FFFD replacement would). */
export const utf8ByteLength = (text: string): number => {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

/**
 * At most `max` bytes of UTF-8; the rejection names the limit. JSON Schema cannot count bytes:
 * `maxLength` (characters) is published as the necessary part, the description says bytes.
 */
const maxBytes = (max: number) => <A extends string, I, R>(self: Schema.Schema<A, I, R>) =>
  self.pipe(Schema.filter((text) => text.length * 3 <= max || utf8ByteLength(text) <= max, {
    message: () => `must be at most ${max} bytes (UTF-8)`,
    jsonSchema: { maxLength: max }
  }))

const Text = (max: number) =>
  Str.pipe(Schema.minLength(1, { message: () => "must not be empty" }), maxBytes(max))

export const SpecVersion = Schema.Literal("1.0").annotations({
  message: () => "must be \"1.0\" (CloudEvents 1.0)",
  description: "CloudEvents specification version; always \"1.0\"."
})

export const TraceParent = Matching(
  TRACEPARENT_PATTERN,
  "must be a W3C traceparent such as \"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\""
).annotations({ description: "W3C Trace Context `traceparent` of the operation that emitted the event." })

/** The attributes defined by the spec (plus `traceparent`), shared by wire and decoded shapes. */
export const EnvelopeAttributes = {
  specversion: SpecVersion,
  id: Text(ENVELOPE_BYTE_LIMITS.id).annotations({
    description: "Event id, unique per source; `source` + `id` identify the event: an event sent again with the " +
      "same `source` and `id` is answered `duplicate` and stored once. At most 512 bytes (UTF-8)."
  }),
  source: Matching(/^\S+$/, "must be a non-empty URI-reference (no spaces)").pipe(maxBytes(ENVELOPE_BYTE_LIMITS.source))
    .annotations({
      description: "URI-reference of the producer. The ingest endpoint accepts only the authenticated gateway's own " +
        "source: \"machpay://gateway/<gateway id>\" (e.g. \"machpay://gateway/gw-eu-1\") or a sub-path of it " +
        "(\"machpay://gateway/gw-eu-1/metrics\"); any other source is rejected (field `source`, 403 when every event " +
        "of the request has one). So `source` + `id`, the duplicate key, always belongs to one gateway. " +
        "At most 512 bytes (UTF-8)."
    }),
  type: Text(ENVELOPE_BYTE_LIMITS.type).annotations({
    description: "Event type, e.g. \"PaymentAuthorized\". Unknown types are stored raw only. At most 256 bytes (UTF-8)."
  }),
  time: opt(Rfc3339.annotations({
    description: "When the event happened (RFC 3339). Required for known event types."
  })),
  subject: opt(Text(ENVELOPE_BYTE_LIMITS.subject).annotations({
    description: "Subject of the event within the source. At most 1024 bytes (UTF-8)."
  })),
  datacontenttype: opt(Text(ENVELOPE_BYTE_LIMITS.datacontenttype).annotations({
    description: "Media type of `data`, e.g. \"application/json\". At most 256 bytes (UTF-8)."
  })),
  dataschema: opt(
    Matching(/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/, "must be an absolute URI").pipe(maxBytes(ENVELOPE_BYTE_LIMITS.dataschema))
      .annotations({ description: "Absolute URI of the schema `data` adheres to. At most 2048 bytes (UTF-8)." })
  ),
  data: opt(Schema.Unknown.annotations({ description: "Event payload (any JSON value); see the schema of each type." })),
  data_base64: opt(Matching(BASE64_PATTERN, "must be a base64 string").annotations({
    description: "Binary payload, base64-encoded; mutually exclusive with `data`."
  })),
  traceparent: opt(TraceParent)
} as const

const KNOWN_ATTRIBUTES: ReadonlySet<string> = new Set(Object.keys(EnvelopeAttributes))

export const ExtensionValue = Schema.Union(
  Str,
  Schema.Int.pipe(Schema.between(INT32_MIN, INT32_MAX)),
  Schema.Boolean
).annotations({
  message: () => ({ message: "extension value must be a string, a 32-bit integer or a boolean", override: true }),
  description: "Extension attribute value: string, integer or boolean."
})
export type ExtensionValue = typeof ExtensionValue.Type

export const ExtensionName = Matching(
  EXTENSION_NAME_PATTERN,
  "extension attribute name must be 1-20 lowercase letters or digits"
)

export const Extensions = Schema.Record({ key: ExtensionName, value: ExtensionValue }).annotations({
  description: "Extension attributes (other than traceparent), by name."
})
export type Extensions = typeof Extensions.Type

const isExtensionValue = (value: unknown): value is ExtensionValue =>
  typeof value === "string" || typeof value === "boolean" ||
  (Number.isInteger(value) && typeof value === "number" && value >= INT32_MIN && value <= INT32_MAX)

/**
 * Flat wire envelope. The index signature admits extension attributes; the
 * filter checks their names and values and the data/data_base64 exclusion.
 */
export const CloudEventWire = Schema.Struct(
  EnvelopeAttributes,
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
).annotations({ title: "CloudEvent", message: () => "must be a JSON object (a CloudEvent)" }).pipe(
  Schema.filter((event) => {
    const issues: Array<Schema.FilterIssue> = []
    if ("data" in event && "data_base64" in event) {
      issues.push({ path: ["data_base64"], message: "data and data_base64 are mutually exclusive" })
    }
    for (const name of Object.keys(event)) {
      if (KNOWN_ATTRIBUTES.has(name)) continue
      const value: unknown = event[name]
      if (!EXTENSION_NAME_PATTERN.test(name)) {
        issues.push({
          path: [name],
          message: `invalid attribute name ${JSON.stringify(name)}: extension names must be 1-20 lowercase letters or digits`
        })
      } else if (!isExtensionValue(value)) {
        issues.push({ path: [name], message: "extension value must be a string, a 32-bit integer or a boolean" })
      }
    }
    return issues.length === 0 ? undefined : issues
  }, {
    // Extensions are the undeclared properties: `additionalProperties` types their
    // values, `propertyNames` restricts their names (no regex lookahead needed).
    jsonSchema: {
      propertyNames: {
        anyOf: [{ enum: [...KNOWN_ATTRIBUTES] }, { pattern: EXTENSION_NAME_PATTERN.source }]
      },
      additionalProperties: {
        description: "Extension attribute.",
        anyOf: [
          { type: "string" },
          { type: "integer", minimum: INT32_MIN, maximum: INT32_MAX },
          { type: "boolean" }
        ]
      },
      not: { required: ["data", "data_base64"] }
    }
  })
).annotations({ title: "CloudEvent", description: "A CloudEvents 1.0 event in JSON structured mode." })

/** A valid wire event → its decoded shape (what `CloudEvent` decodes to): undeclared attributes move into `extensions`. */
export const wireToDecoded = (wire: typeof CloudEventWire.Type): typeof CloudEventDecoded.Type => {
  const extensions: Record<string, ExtensionValue> = {}
  const event = { ...wire, extensions }
  for (const name of Object.keys(wire)) {
    if (KNOWN_ATTRIBUTES.has(name)) continue
    const value: unknown = wire[name]
    Reflect.deleteProperty(event, name)
    if (isExtensionValue(value)) extensions[name] = value
  }
  return event
}

/** Decoded envelope: spec attributes plus `extensions`. */
export const CloudEventDecoded = Schema.Struct({ ...EnvelopeAttributes, extensions: Extensions }).annotations({
  title: "CloudEvent"
})

/** unknown (wire JSON) → decoded envelope. Decode each event of a batch separately with this. */
export const CloudEvent = Schema.transform(CloudEventWire, CloudEventDecoded, {
  strict: true,
  decode: (wire) => wireToDecoded(wire),
  encode: ({ extensions, ...attributes }) => ({ ...extensions, ...attributes })
}).annotations({ title: "CloudEvent" })
export type CloudEvent = typeof CloudEvent.Type
export type CloudEventJson = typeof CloudEvent.Encoded

export const MAX_BATCH_EVENTS = 10_000

/**
 * A batch (application/cloudevents-batch+json). The server should decode the
 * array shape only and each element with `CloudEvent`, so one bad event does
 * not fail the batch; this schema documents the whole.
 */
export const CloudEventBatch = Schema.Array(CloudEvent).pipe(
  Schema.maxItems(MAX_BATCH_EVENTS, { message: () => `a batch holds at most ${MAX_BATCH_EVENTS} events` })
).annotations({ title: "CloudEventBatch", description: "A JSON array of CloudEvents (batch mode)." })

/**
 * The outer shape of a batch body, elements left undecoded: decode this, then
 * each element with `decodeCloudEvent`, so one bad event never fails its batch.
 */
export const RawEventBatch = Schema.Array(Schema.Unknown).annotations({
  message: () => "a batch must be a JSON array of CloudEvents"
}).pipe(Schema.maxItems(MAX_BATCH_EVENTS, { message: () => `a batch holds at most ${MAX_BATCH_EVENTS} events` }))

const decodeWire = Schema.decodeUnknownEither(CloudEventWire)

/**
 * unknown → envelope, as an Either (pure, and `yield*`-able in Effect code); the same as
 * decoding with `CloudEvent`. The receiver uses a compiled equivalent (src/ingest/FastEvents.ts).
 */
export const decodeCloudEvent = (input: unknown): Either.Either<CloudEvent, ParseResult.ParseError> =>
  Either.map(decodeWire(input), wireToDecoded)

/**
 * The envelope of a known event type: `time` is required and `data` is
 * decoded by the type's data schema. Input is a decoded `CloudEvent`.
 */
export const CloudEventOf = <T extends string, D extends Schema.Schema.AnyNoContext>(type: T, data: D) =>
  Schema.Struct({
    ...EnvelopeAttributes,
    extensions: Extensions,
    type: Schema.Literal(type).annotations({ message: () => `must be ${JSON.stringify(type)}` }),
    time: Rfc3339.annotations({ description: "When the event happened (RFC 3339); required for this type." }),
    data
  }).annotations({ title: `CloudEvent<${type}>` })
