import { Either, Option, ParseResult, Schema } from "effect"
import { CloudEvent, describeParseError, validateKnownEvent } from "../../schema/index.js"

export interface Rejection {
  readonly field: string
  readonly reason: string
  /** TreeFormatter rendering, to check the field is named in the human message too. */
  readonly tree: string
}

const reject = (error: ParseResult.ParseError): Rejection => ({
  ...describeParseError(error),
  tree: ParseResult.TreeFormatter.formatErrorSync(error)
})

/** The server's pipeline for one event: envelope, then the known type's rules. */
export const ingestOne = (input: unknown): Either.Either<CloudEvent, Rejection> =>
  Schema.decodeUnknownEither(CloudEvent)(input).pipe(
    Either.flatMap((envelope) =>
      Either.map(validateKnownEvent(envelope), (known) => Option.getOrElse(known, () => envelope))
    ),
    Either.mapLeft(reject)
  )

export const decodeRejection = <A, I>(schema: Schema.Schema<A, I>, input: unknown): Rejection | undefined =>
  Either.match(Schema.decodeUnknownEither(schema)(input), { onLeft: reject, onRight: () => undefined })

/** Deep copy of a JSON value, as mutable. */
export const clone = <T>(value: T): T => structuredClone(value)
