/**
 * Validation of single option values. Each check returns the value or a message that
 * starts with the option name, so every error tells the user which argument is wrong.
 * Ids use the wire contract's schemas: an id the CLI accepts is one events may carry.
 */
import { Either, ParseResult, Schema } from "effect"
import { AgentId, GatewayId, VendorId } from "../../schema/Ids.js"

export type Check<A> = (option: string, raw: string) => Either.Either<A, string>

const quote = (raw: string): string => JSON.stringify(raw)

const fromSchema = <A>(schema: Schema.Schema<A, string>): Check<A> => (option, raw) =>
  Schema.decodeUnknownEither(schema)(raw).pipe(
    Either.mapLeft((error) => {
      const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
      return `--${option} ${quote(raw)}: ${issue?.message ?? "is not valid"}`
    })
  )

export const vendorId: Check<VendorId> = fromSchema(VendorId)
export const gatewayId: Check<GatewayId> = fromSchema(GatewayId)
export const agentId: Check<AgentId> = fromSchema(AgentId)

const CONTROL = /[\u0000-\u001f\u007f]/

/** Free text shown to people (names, subjects): trimmed, non-empty, one line, bounded. */
export const text = (max: number): Check<string> => (option, raw) => {
  const value = raw.trim()
  if (value.length === 0) return Either.left(`--${option}: must not be empty`)
  if (value.length > max) return Either.left(`--${option}: must be at most ${max} characters`)
  if (CONTROL.test(value)) return Either.left(`--${option}: must not contain control characters`)
  return Either.right(value)
}

/** A wallet address in whatever chain's notation: one token without spaces. */
export const wallet: Check<string> = (option, raw) =>
  /^[\x21-\x7e]{1,256}$/.test(raw)
    ? Either.right(raw)
    : Either.left(`--${option} ${quote(raw)}: must be 1-256 printable characters without spaces`)

export const MAX_RATE_LIMIT = 1_000_000

export const rateLimit: Check<number> = (option, raw) => {
  const n = /^\d{1,9}$/.test(raw) ? Number(raw) : Number.NaN
  return n >= 1 && n <= MAX_RATE_LIMIT
    ? Either.right(n)
    : Either.left(`--${option} ${quote(raw)}: must be a whole number of events per second from 1 to ${MAX_RATE_LIMIT}`)
}

const UNIT_SECONDS = { m: 60, h: 3600, d: 86_400 } as const
export const MAX_TTL_SECONDS = 30 * UNIT_SECONDS.d

/** `30m`, `24h`, `7d`: a positive whole number and a unit, at most 30 days. */
export const ttl: Check<number> = (option, raw) => {
  const match = /^(\d{1,6})([mhd])$/.exec(raw)
  const amount = Number(match?.[1])
  const unit = match?.[2]
  if ((unit !== "m" && unit !== "h" && unit !== "d") || !(amount > 0)) {
    return Either.left(`--${option} ${quote(raw)}: must be a positive number followed by m, h or d (e.g. 30m, 24h, 7d)`)
  }
  const seconds = amount * UNIT_SECONDS[unit]
  return seconds <= MAX_TTL_SECONDS ? Either.right(seconds) : Either.left(`--${option} ${quote(raw)}: must be at most 30d`)
}

export const oneOf = <const L extends ReadonlyArray<string>>(...values: L): Check<L[number]> => (option, raw) => {
  const found = values.find((value) => value === raw)
  return found === undefined
    ? Either.left(`--${option} ${quote(raw)}: must be one of ${values.join(", ")}`)
    : Either.right(found)
}
