/**
 * The contract's event decoders (`decodeCloudEvent`, `validateKnownEvent`, `decodeKnownData` of
 * schema/) on the receiver's hot path: same results, several times faster. The wire shape and a
 * known type's `data` are checked by compiled decoders (FastDecode.ts); on any failure the schema
 * decodes again, so errors read exactly as the schema words them. Agreement is tested with
 * properties over `Arbitrary.make(schema)` (test/ingest/fast-decode.test.ts).
 */
import { Either, Option, type ParseResult } from "effect"
import * as Contract from "../../schema/index.js"
import {
  type CloudEvent,
  CloudEventWire,
  type EventData,
  type EventType,
  EventTypes,
  isEventType,
  type KnownData,
  type KnownEvent,
  wireToDecoded
} from "../../schema/index.js"
import { compileDecoder, FAIL } from "./FastDecode.js"

const fastWire = compileDecoder(CloudEventWire)

/** unknown → envelope: `Contract.decodeCloudEvent`, compiled. A valid wire envelope's `wireToDecoded` is valid by construction. */
export const decodeCloudEvent = (input: unknown): Either.Either<CloudEvent, ParseResult.ParseError> => {
  const wire = fastWire(input)
  return wire === FAIL ? Contract.decodeCloudEvent(input) : Either.right(wireToDecoded(wire))
}

/** Compiled decoders of each type's `data`; `FAIL` → decode with the schema for the issue. */
const fastData: { readonly [T in EventType]: (u: unknown) => EventData<T> | typeof FAIL } = {
  PaymentAuthorized: compileDecoder(EventTypes.PaymentAuthorized),
  RequestBlocked: compileDecoder(EventTypes.RequestBlocked),
  SolvencyAlert: compileDecoder(EventTypes.SolvencyAlert),
  PaymentIntent: compileDecoder(EventTypes.PaymentIntent),
  GatewayTelemetryPacket: compileDecoder(EventTypes.GatewayTelemetryPacket)
}

const decodeDataFast = (type: EventType, data: unknown): EventData | typeof FAIL => {
  const decode: (u: unknown) => EventData | typeof FAIL = fastData[type]
  return decode(data)
}

/** `Contract.decodeKnownData`, compiled. */
export const decodeKnownData = (type: EventType, data: unknown): Either.Either<KnownData, ParseResult.ParseError> => {
  const fast = decodeDataFast(type, data)
  return fast !== FAIL ? Either.right({ type, data: fast } as KnownData) : Contract.decodeKnownData(type, data)
}

/** `Contract.validateKnownEvent`, compiled. */
export const validateKnownEvent = (
  envelope: CloudEvent
): Either.Either<Option.Option<KnownEvent>, ParseResult.ParseError> => {
  const type = envelope.type
  if (!isEventType(type)) return Either.right(Option.none())
  // The envelope is already valid: checking `time` and `data` alone gives the same typed event.
  if (envelope.time !== undefined) {
    const data = decodeDataFast(type, envelope.data)
    if (data !== FAIL) return Either.right(Option.some({ ...envelope, data } as KnownEvent))
  }
  return Contract.validateKnownEvent(envelope)
}
