/**
 * RFC 3339 date-times, kept as strings on both sides of the schema.
 *
 * `Schema.DateFromString` is not used: it turns "nope" into an Invalid Date
 * instead of failing, and a Date is not JSON.
 */
import { Schema } from "effect"

/** 0001-01-01T00:00:00Z: PostgreSQL has no year 0, and RFC 3339 has no years before it. */
const FIRST_INSTANT_MS = -62_135_596_800_000

/** The largest UTC offset's hours PostgreSQL's timestamptz accepts. */
const MAX_OFFSET_HOURS = 15

const daysInMonth = (year: number, month: number): number =>
  month === 2
    ? (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
    : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`). */
const daysFromCivil = (year: number, month: number, day: number): number => {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yearOfEra = y - era * 400
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  return era * 146_097 + yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear - 719_468
}

/** The number written by `count` ASCII digits of `value` from `at`, or -1 if one is not a digit. */
const digits = (value: string, at: number, count: number): number => {
  let n = 0
  for (let i = at; i < at + count; i++) {
    const d = value.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

/**
 * Parses an RFC 3339 date-time (`YYYY-MM-DDTHH:MM:SS(.fraction)?(Z|±HH:MM)`) to
 * epoch milliseconds, or `NaN` when it is malformed or not a real calendar
 * instant (Feb 30, hour 24…). Leap seconds (`:60`) are rejected, and so are offsets
 * beyond ±15:59, which RFC 3339's grammar allows but PostgreSQL cannot store (SQLSTATE 22009:
 * such an event was acknowledged and then refused by the database). Real offsets span −12:00
 * to +14:00. The fraction has 1–9 digits; sub-millisecond digits are truncated.
 *
 * Read character by character: it runs for every time of every event, and a regular
 * expression's match array and a `Date` per call were measurable garbage at 10,000 events/s.
 */
export const rfc3339ToEpochMillis = (value: string): number => {
  const length = value.length
  if (length < 20) return Number.NaN
  const year = digits(value, 0, 4)
  const month = digits(value, 5, 2)
  const day = digits(value, 8, 2)
  const hour = digits(value, 11, 2)
  const minute = digits(value, 14, 2)
  const second = digits(value, 17, 2)
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return Number.NaN
  const t = value.charCodeAt(10)
  if (value.charCodeAt(4) !== 45 || value.charCodeAt(7) !== 45 || (t !== 84 && t !== 116)) return Number.NaN
  if (value.charCodeAt(13) !== 58 || value.charCodeAt(16) !== 58) return Number.NaN
  // Year 0000 is RFC 3339 but not PostgreSQL (SQLSTATE 22008): refused here, not after the ack.
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN
  if (hour > 23 || minute > 59 || second > 59) return Number.NaN
  let at = 19
  let millis = 0
  if (value.charCodeAt(at) === 46) {
    const from = ++at
    while (at < length && at - from < 10) {
      const d = value.charCodeAt(at) - 48
      if (d < 0 || d > 9) break
      if (at - from < 3) millis = millis * 10 + d
      at++
    }
    const count = at - from
    if (count < 1 || count > 9) return Number.NaN
    for (let i = count; i < 3; i++) millis *= 10
  }
  let offsetMinutes = 0
  const zone = value.charCodeAt(at)
  if (zone === 90 || zone === 122) {
    if (at + 1 !== length) return Number.NaN
  } else if (zone === 43 || zone === 45) {
    if (at + 6 !== length || value.charCodeAt(at + 3) !== 58) return Number.NaN
    const oh = digits(value, at + 1, 2)
    const om = digits(value, at + 4, 2)
    if (oh < 0 || om < 0 || oh > MAX_OFFSET_HOURS || om > 59) return Number.NaN
    offsetMinutes = (zone === 45 ? -1 : 1) * (oh * 60 + om)
  } else {
    return Number.NaN
  }
  const days = daysFromCivil(year, month, day)
  const ms = days * 86_400_000 + ((hour * 60 + minute) * 60 + second) * 1000 + millis - offsetMinutes * 60_000
  // In UTC too: "0001-01-01T00:30:00+01:00" is year 0 once stored, and read back it cannot be written again.
  return ms < FIRST_INSTANT_MS ? Number.NaN : ms
}

/** True when `value` is a valid RFC 3339 date-time. */
export const isRfc3339 = (value: string): boolean => !Number.isNaN(rfc3339ToEpochMillis(value))

/** An RFC 3339 date-time string, e.g. "2025-06-01T12:00:00Z". */
export const Rfc3339 = Schema.String.annotations({ message: () => "must be an RFC 3339 date-time string" }).pipe(
  Schema.filter(isRfc3339, {
    message: () => "must be a valid RFC 3339 date-time such as \"2025-06-01T12:00:00Z\" (year 0001 or later, UTC offset at most ±15:59)",
    jsonSchema: { format: "date-time" },
    // For property tests (`Arbitrary.make`): random strings would almost never pass the filter.
    arbitrary: () => (fc) =>
      fc.date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2099-12-31T23:59:59Z"), noInvalidDate: true })
        .map((date) => date.toISOString())
  })
).annotations({ description: "RFC 3339 date-time, e.g. \"2025-06-01T12:00:00Z\"." })
