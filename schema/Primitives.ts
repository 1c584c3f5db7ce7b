/**
 * Building blocks shared by every wire schema.
 *
 * Every leaf carries its own `message` annotation on purpose: Effect's default
 * message is "Expected <description>, actual …", and our descriptions are field
 * documentation, not error text. With explicit messages the formatted error reads
 * `["data"]["amount"] └─ must be a decimal string …`.
 */
import { Schema } from "effect"

const fixed = (message: string) => () => message
/** Used for unions of literals, whose inner per-member messages are noise. */
const overriding = (message: string) => () => ({ message, override: true })

/** A string; a non-string fails with "must be a string". */
export const Str = Schema.String.annotations({ message: fixed("must be a string") })

/** A string of at most `max` characters (empty allowed). */
export const MaxString = (max: number) =>
  Str.pipe(Schema.maxLength(max, { message: fixed(`must be at most ${max} characters`) }))

/** A non-empty string of at most `max` characters. */
export const NonEmptyString = (max: number) =>
  Str.pipe(
    Schema.minLength(1, { message: fixed("must not be empty") }),
    Schema.maxLength(max, { message: fixed(`must be at most ${max} characters`) })
  )

/** A string matching `regex`; `message` explains the rule to a human. */
export const Matching = (regex: RegExp, message: string) =>
  Str.pipe(Schema.pattern(regex, { message: fixed(message) }))

/** One of the given string literals, failing with "must be one of: …". */
export const OneOf = <const L extends readonly [string, ...Array<string>]>(...values: L) =>
  Schema.Literal(...values).annotations({
    message: overriding(`must be one of: ${values.map((v) => JSON.stringify(v)).join(", ")}`)
  })

const Num = Schema.Number.annotations({ message: fixed("must be a number") })

/** An integer ≥ 0 (safe integer range). */
export const NonNegativeInt = Num.pipe(
  Schema.int({ message: fixed("must be an integer") }),
  Schema.nonNegative({ message: fixed("must be ≥ 0") })
)

/** An integer in [min, max]. */
export const IntBetween = (min: number, max: number) =>
  Num.pipe(
    Schema.int({ message: fixed("must be an integer") }),
    Schema.between(min, max, { message: fixed(`must be between ${min} and ${max}`) })
  )

/** A finite number ≥ 0 (JSON has no NaN/Infinity, but JS callers might). */
export const NonNegativeNumber = Num.pipe(
  Schema.finite({ message: fixed("must be a finite number") }),
  Schema.nonNegative({ message: fixed("must be ≥ 0") })
)

/** A JSON object with arbitrary values (e.g. a gateway's settings). */
export const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
  message: fixed("must be a JSON object")
})

/** Token/asset symbol, e.g. "USDC". */
export const Asset = Matching(/^[A-Za-z0-9.]{1,16}$/, "must be an asset symbol such as \"USDC\" (1-16 letters, digits or dots)")
  .annotations({ description: "Asset symbol, e.g. \"USDC\"." })

/** Chain/network name, e.g. "base", "base-sepolia", "solana". */
export const Network = Matching(/^[a-z0-9-]{1,32}$/, "must be a network name such as \"base\" (1-32 lowercase letters, digits or dashes)")
  .annotations({ description: "Network name, e.g. \"base\", \"base-sepolia\", \"solana\"." })

export const HttpMethod = OneOf("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
  .annotations({ description: "HTTP method of the request." })
export type HttpMethod = typeof HttpMethod.Type

/** A path template such as "/v1/weather/{city}". */
export const Route = Matching(/^\/[^\s]{0,511}$/, "must be a path starting with \"/\" (no spaces, at most 512 characters)")
  .annotations({ description: "Route path template, e.g. \"/v1/weather/{city}\"." })
