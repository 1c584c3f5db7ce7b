/**
 * Registry of known event types: the CloudEvents `type` value → schema of `data`.
 * Events of any other type are valid envelopes stored raw only.
 */
import { Either, Option, ParseResult, Schema } from "effect"
import { CloudEvent, CloudEventOf } from "../CloudEvent.js"
import { GatewayTelemetryPacket } from "./GatewayTelemetryPacket.js"
import { PaymentAuthorized } from "./PaymentAuthorized.js"
import { PaymentIntent } from "./PaymentIntent.js"
import { RequestBlocked } from "./RequestBlocked.js"
import { SolvencyAlert } from "./SolvencyAlert.js"

export * from "./GatewayTelemetryPacket.js"
export * from "./PaymentAuthorized.js"
export * from "./PaymentIntent.js"
export * from "./RequestBlocked.js"
export * from "./SolvencyAlert.js"

/** Data schema of each known event type. */
export const EventTypes = {
  PaymentAuthorized,
  RequestBlocked,
  SolvencyAlert,
  PaymentIntent,
  GatewayTelemetryPacket
} as const
export type EventTypes = typeof EventTypes

export type EventType = keyof EventTypes
export const EVENT_TYPES: ReadonlyArray<EventType> = [
  "PaymentAuthorized",
  "RequestBlocked",
  "SolvencyAlert",
  "PaymentIntent",
  "GatewayTelemetryPacket"
]

export const EventType = Schema.Literal(...EVENT_TYPES).annotations({ description: "A known event type." })

export const isEventType = (type: string): type is EventType => Object.hasOwn(EventTypes, type)

/** Decoded `data` of a known type. */
export type EventData<T extends EventType = EventType> = EventTypes[T]["Type"]

/** Decoded envelope → fully typed event of a known type (`time` required, `data` decoded). */
export const KnownEventSchemas = {
  PaymentAuthorized: CloudEventOf("PaymentAuthorized", PaymentAuthorized),
  RequestBlocked: CloudEventOf("RequestBlocked", RequestBlocked),
  SolvencyAlert: CloudEventOf("SolvencyAlert", SolvencyAlert),
  PaymentIntent: CloudEventOf("PaymentIntent", PaymentIntent),
  GatewayTelemetryPacket: CloudEventOf("GatewayTelemetryPacket", GatewayTelemetryPacket)
} as const

export type KnownEventOf<T extends EventType> = (typeof KnownEventSchemas)[T]["Type"]
/** A typed event of a known type; discriminated by `type`. */
export type KnownEvent = { [T in EventType]: KnownEventOf<T> }[EventType]

/** Union schema of all known events (decoded envelope → typed event). */
export const KnownEvent = Schema.Union(
  KnownEventSchemas.PaymentAuthorized,
  KnownEventSchemas.RequestBlocked,
  KnownEventSchemas.SolvencyAlert,
  KnownEventSchemas.PaymentIntent,
  KnownEventSchemas.GatewayTelemetryPacket
)

const decoders: { readonly [T in EventType]: (u: unknown) => Either.Either<KnownEventOf<T>, ParseResult.ParseError> } = {
  PaymentAuthorized: Schema.decodeUnknownEither(KnownEventSchemas.PaymentAuthorized),
  RequestBlocked: Schema.decodeUnknownEither(KnownEventSchemas.RequestBlocked),
  SolvencyAlert: Schema.decodeUnknownEither(KnownEventSchemas.SolvencyAlert),
  PaymentIntent: Schema.decodeUnknownEither(KnownEventSchemas.PaymentIntent),
  GatewayTelemetryPacket: Schema.decodeUnknownEither(KnownEventSchemas.GatewayTelemetryPacket)
}

const dataDecoders: { readonly [T in EventType]: (u: unknown) => Either.Either<EventData<T>, ParseResult.ParseError> } = {
  PaymentAuthorized: Schema.decodeUnknownEither(PaymentAuthorized),
  RequestBlocked: Schema.decodeUnknownEither(RequestBlocked),
  SolvencyAlert: Schema.decodeUnknownEither(SolvencyAlert),
  PaymentIntent: Schema.decodeUnknownEither(PaymentIntent),
  GatewayTelemetryPacket: Schema.decodeUnknownEither(GatewayTelemetryPacket)
}

/** A known type with its decoded `data` (what the pipeline keeps of a typed event). */
export type KnownData = { [T in EventType]: { readonly type: T; readonly data: EventData<T> } }[EventType]

/** Decodes the `data` of a known type alone (e.g. of an event validated before, read back from disk). */
export const decodeKnownData = (type: EventType, data: unknown): Either.Either<KnownData, ParseResult.ParseError> => {
  const decode: (u: unknown) => Either.Either<EventData, ParseResult.ParseError> = dataDecoders[type]
  return Either.map(decode(data), (decoded) => ({ type, data: decoded }) as KnownData)
}

/**
 * Validates a decoded envelope against its known type: `time` must be present
 * and `data` must match the type's schema (errors name `time`, `data.<field>`).
 * `Right(None)` for an unknown type (stored raw only). Pure; an `Either` is
 * also an Effect, so `yield*` it in effectful code. The receiver uses a compiled equivalent
 * (src/ingest/FastEvents.ts).
 */
export const validateKnownEvent = (
  envelope: CloudEvent
): Either.Either<Option.Option<KnownEvent>, ParseResult.ParseError> => {
  const type = envelope.type
  if (!isEventType(type)) return Either.right(Option.none())
  const decode: (u: unknown) => Either.Either<KnownEvent, ParseResult.ParseError> = decoders[type]
  return Either.map(decode(envelope), Option.some)
}

/**
 * Wire JSON → typed known event in one step (and back with `Schema.encode`).
 * Handy for clients and tests; the server uses `CloudEvent` + `validateKnownEvent`
 * so that unknown types still decode.
 */
export const KnownCloudEvent = Schema.compose(CloudEvent, KnownEvent, { strict: false })
