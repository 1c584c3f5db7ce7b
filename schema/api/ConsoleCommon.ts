/**
 * Shapes shared by the console API: query-parameter pieces (time ranges, pages), money and
 * time on the wire, and the limits the server enforces. Query parameters arrive as strings,
 * so numbers are decoded from strings here and every leaf says what it expects.
 */
import { Schema } from "effect"
import { Rfc3339, rfc3339ToEpochMillis } from "../Time.js"

export const DEFAULT_PAGE_SIZE = 50
export const MAX_PAGE_SIZE = 500
/** Longest range for aggregates (stats, consumers, spending, daily revenue). */
export const MAX_AGGREGATE_RANGE_DAYS = 92
/** Longest range for hourly series (hourly revenue, metrics). */
export const MAX_HOURLY_RANGE_DAYS = 31
/** Longest range for paginated lists (payments, alerts, activity). */
export const MAX_LIST_RANGE_DAYS = 366
export const DEFAULT_RANGE_DAYS = 30

const fixed = (message: string) => () => message

/**
 * A decimal amount as a string ("12.5"); trailing zeros are trimmed. Single amounts are
 * numeric(38,18) (< 10^20, 18 decimals); sums are exact and unbounded in SQL, so the wire
 * form has no integer-digit limit: n payments below 10^20 sum below n × 10^20 (at most
 * 39 integer digits for any count PostgreSQL can hold). The length cap only keeps a
 * response bounded.
 */
export const Amount = Schema.String.pipe(Schema.pattern(/^(0|[1-9][0-9]{0,99})(\.[0-9]{1,18})?$/)).annotations({
  description: "Decimal amount as a string, e.g. \"12.5\" (never a JSON number). Sums may exceed 20 integer digits."
})

/** RFC 3339 UTC time, e.g. "2025-06-01T12:00:00Z" (fraction only when non-zero, to the microsecond). */
export const UtcTime = Rfc3339.annotations({
  description: "RFC 3339 time in UTC, e.g. \"2025-06-01T12:00:00Z\"."
})

export const AssetAmount = Schema.Struct({
  asset: Schema.String.annotations({ description: "Asset symbol, e.g. \"USDC\"." }),
  amount: Amount
}).annotations({ identifier: "AssetAmount", description: "An amount in one asset." })
export type AssetAmount = typeof AssetAmount.Type

export const AssetTotal = Schema.Struct({
  asset: Schema.String.annotations({ description: "Asset symbol, e.g. \"USDC\"." }),
  amount: Amount,
  payments: Schema.Int.annotations({ description: "Payments in this asset." })
}).annotations({ identifier: "AssetTotal", description: "Sum and count of payments in one asset." })
export type AssetTotal = typeof AssetTotal.Type

/** An integer query parameter in [min, max]. */
/** Decimal digits only: `Number()` also reads "0x10", "+5", " 5", "1e3" and "5 ". */
export const IntParam = (min: number, max: number, description: string) => {
  const message = fixed(`must be an integer between ${min} and ${max}`)
  return Schema.String.annotations({ message }).pipe(
    Schema.pattern(/^[0-9]{1,15}$/, { message, description }),
    Schema.compose(Schema.NumberFromString.annotations({ message })),
    Schema.int({ message }),
    Schema.between(min, max, { message })
  ).annotations({ description })
}

/**
 * Times a query may name: 1970-01-01 to 9999-12-31 (UTC). The RFC 3339 parser accepts year
 * 0000 and offsets that push an instant outside four-digit years, which PostgreSQL refuses
 * or JavaScript prints as "+010000-…"; they are 400s here, before any SQL.
 */
export const MIN_TIME_MS = Date.UTC(1970, 0, 1)
export const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

export const isConsoleTime = (value: string): boolean => {
  const ms = rfc3339ToEpochMillis(value)
  return ms >= MIN_TIME_MS && ms <= MAX_TIME_MS
}

export const TimeParam = (description: string) =>
  Schema.String.pipe(
    Schema.filter(isConsoleTime, {
      message: fixed("must be an RFC 3339 date-time between 1970-01-01 and 9999-12-31, such as \"2025-06-01T12:00:00Z\""),
      jsonSchema: { format: "date-time" }
    })
  ).annotations({ description })

export const FromParam = TimeParam("Start of the range, inclusive (RFC 3339).")
export const ToParam = TimeParam("End of the range, exclusive (RFC 3339); defaults to now.")

export const LimitParam = IntParam(1, MAX_PAGE_SIZE, `Page size, 1-${MAX_PAGE_SIZE}; default ${DEFAULT_PAGE_SIZE}.`)

export const CursorParam = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_.-]{1,2048}$/, { message: fixed("must be a cursor returned as next_cursor by this endpoint") })
).annotations({ description: "Opaque cursor from the previous page's `next_cursor`." })

export const NextCursor = Schema.NullOr(Schema.String).annotations({
  description: "Pass as `cursor` to get the next page; null on the last page."
})

/** The resolved range a response covers. */
export const RangeFields = {
  from: UtcTime.annotations({ description: "Start of the range covered, inclusive." }),
  to: UtcTime.annotations({ description: "End of the range covered, exclusive." })
}
