/**
 * Query parameters the schema cannot check alone: time ranges (defaults, order, length —
 * `to` defaults to now, which only the handler knows), page sizes, and cursor values (Cursor.ts signs them).
 */
import { Clock, Effect, Schema } from "effect"
import { DEFAULT_PAGE_SIZE, isConsoleTime, MIN_TIME_MS } from "../../schema/api/ConsoleCommon.js"
import { rfc3339ToEpochMillis } from "../../schema/Time.js"
import { type InvalidParameter, invalidParameter } from "./Errors.js"

const DAY = 86_400_000
const HOUR = 3_600_000

/** A resolved `[from, to)`; also the request schema of the repositories' range queries. */
export const Range = Schema.Struct({
  /** UTC ISO strings (the precision they were given with, at least milliseconds) — bound into SQL as `::timestamptz`. */
  from: Schema.String,
  to: Schema.String,
  fromMs: Schema.Number,
  toMs: Schema.Number
})
export type Range = typeof Range.Type

export interface RangeRule {
  /** Default length when `from` is absent. */
  readonly defaultMs: number
  /** Longest allowed range. */
  readonly maxMs: number
  /** Align the default `from` down to a UTC day or hour (bucketed series). */
  readonly align?: "day" | "hour"
}

export const days = (n: number) => n * DAY
export const hours = (n: number) => n * HOUR

const alignDown = (ms: number, align: "day" | "hour" | undefined) =>
  align === "day" ? Math.floor(ms / DAY) * DAY : align === "hour" ? Math.floor(ms / HOUR) * HOUR : ms

const describeLength = (ms: number) => (ms % DAY === 0 ? `${ms / DAY} days` : `${ms / HOUR} hours`)

/**
 * The digits of a time's fraction after the millisecond ("" when there are none, or only zeros).
 * Stored times keep microseconds, so a bound cut to milliseconds would move by up to 999 µs.
 */
const subMillis = (value: string): string => {
  const digits = /[Tt]\d{2}:\d{2}:\d{2}\.(\d{4,9})/.exec(value)?.[1]?.slice(3) ?? ""
  return /^0*$/.test(digits) ? "" : digits.replace(/0+$/, "")
}

/** UTC text of `ms` with the sub-millisecond digits it was given (PostgreSQL rounds them to µs, as it did the stored times). */
const utcText = (ms: number, rest: string): string => {
  const iso = new Date(ms).toISOString()
  return rest === "" ? iso : `${iso.slice(0, -1)}${rest}Z`
}

/** `[from, to)` from the query; `to` defaults to now and `from` to `to − defaultMs` (aligned). */
export const resolveRange = (
  query: { readonly from?: string | undefined; readonly to?: string | undefined },
  rule: RangeRule
): Effect.Effect<Range, InvalidParameter> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const toMs = query.to === undefined ? now : rfc3339ToEpochMillis(query.to)
    // The default `from` never falls before the first time a query may name (1970-01-01).
    const fromMs = query.from === undefined
      ? Math.max(MIN_TIME_MS, alignDown(toMs - rule.defaultMs + (rule.align === undefined ? 0 : rule.align === "day" ? DAY : HOUR), rule.align))
      : rfc3339ToEpochMillis(query.from)
    const fromRest = query.from === undefined ? "" : subMillis(query.from)
    const toRest = query.to === undefined ? "" : subMillis(query.to)
    if (fromMs > toMs || (fromMs === toMs && fromRest.padEnd(6, "0") >= toRest.padEnd(6, "0"))) {
      return yield* Effect.fail(
        query.from === undefined
          // The default `from` stops at 1970-01-01: a `to` at or before it leaves no range.
          ? invalidParameter("to", "must be after 1970-01-01T00:00:00Z (the earliest `from`)")
          : invalidParameter("from", "must be before `to`")
      )
    }
    if (toMs - fromMs > rule.maxMs) {
      return yield* Effect.fail(invalidParameter("from", `the range from \`from\` to \`to\` must not exceed ${describeLength(rule.maxMs)}`))
    }
    return { from: utcText(fromMs, fromRest), to: utcText(toMs, toRest), fromMs, toMs }
  })

export const pageSize = (limit: number | undefined, fallback = DEFAULT_PAGE_SIZE) => limit ?? fallback

/** Cursor elements: a time as the server printed it (bounded like the time parameters). */
export const CursorTime = Schema.String.pipe(Schema.filter(isConsoleTime))
/** A small non-negative integer (source ranks). */
export const CursorInt = Schema.Number.pipe(Schema.int(), Schema.between(0, 1000))
/** A row id or sequence: a non-negative bigint (PostgreSQL refuses more than 2^63 − 1). */
export const CursorSeq = Schema.String.pipe(
  Schema.pattern(/^[0-9]{1,19}$/),
  Schema.filter((s) => BigInt(s) <= 9_223_372_036_854_775_807n)
)
/** A text key the server printed: printable, no NUL (PostgreSQL text refuses it). */
export const CursorId = Schema.String.pipe(Schema.pattern(/^[^\u0000-\u001f]{1,256}$/))
/** A non-negative decimal the server printed (sums have no integer-digit limit). */
export const CursorDecimal = Schema.String.pipe(Schema.pattern(/^[0-9]{1,100}(\.[0-9]{1,18})?$/))

/** Compares two non-negative decimal strings ("12.5") exactly: negative, 0 or positive. */
export const compareDecimals = (a: string, b: string): number => {
  const [ai = "", af = ""] = a.split(".")
  const [bi = "", bf = ""] = b.split(".")
  const ia = ai.replace(/^0+(?=\d)/, "")
  const ib = bi.replace(/^0+(?=\d)/, "")
  if (ia.length !== ib.length) return ia.length - ib.length
  const width = Math.max(af.length, bf.length)
  const x = ia + af.padEnd(width, "0")
  const y = ib + bf.padEnd(width, "0")
  return x < y ? -1 : x > y ? 1 : 0
}

/** A page from `limit + 1` fetched rows: the first `limit`, and a cursor after the last when more exist. */
export const paged = <R, Q>(rows: ReadonlyArray<R>, limit: number, cursorAfter: (last: R) => Effect.Effect<string, never, Q>) =>
  Effect.gen(function*() {
    const items = rows.slice(0, limit)
    const last = items[items.length - 1]
    return { items, next_cursor: rows.length > limit && last !== undefined ? yield* cursorAfter(last) : null }
  })
