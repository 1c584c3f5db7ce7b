/**
 * RFC 3339 date-times, kept as strings on both sides of the schema.
 *
 * `Schema.DateFromString` is not used: it turns "nope" into an Invalid Date
 * instead of failing, and a Date is not JSON.
 */
import { Schema } from "effect"

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/

/** The largest UTC offset's hours PostgreSQL's timestamptz accepts. */
const MAX_OFFSET_HOURS = 15

const daysInMonth = (year: number, month: number): number =>
  month === 2
    ? (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
    : [4, 6, 9, 11].includes(month) ? 30 : 31

/**
 * Parses an RFC 3339 date-time (`YYYY-MM-DDTHH:MM:SS(.fraction)?(Z|±HH:MM)`) to
 * epoch milliseconds, or `NaN` when it is malformed or not a real calendar
 * instant (Feb 30, hour 24…). Leap seconds (`:60`) are rejected, and so are offsets
 * beyond ±15:59, which RFC 3339's grammar allows but PostgreSQL cannot store (SQLSTATE 22009:
 * such an event was acknowledged and then refused by the database). Real offsets span −12:00
 * to +14:00. Sub-millisecond digits are truncated.
 */
export const rfc3339ToEpochMillis = (value: string): number => {
  const m = RFC3339.exec(value)
  if (m === null) return Number.NaN
  // Indexed one by one: this runs for every event, and a mapped array allocates.
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  const hour = Number(m[4])
  const minute = Number(m[5])
  const second = Number(m[6])
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN
  if (hour > 23 || minute > 59 || second > 59) return Number.NaN
  let offsetMinutes = 0
  if (m[8] === undefined) {
    const oh = Number(m[10])
    const om = Number(m[11])
    if (oh > MAX_OFFSET_HOURS || om > 59) return Number.NaN
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (oh * 60 + om)
  }
  const millis = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, "0"))
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute, second, millis)
  return date.getTime() - offsetMinutes * 60_000
}

/** True when `value` is a valid RFC 3339 date-time. */
export const isRfc3339 = (value: string): boolean => !Number.isNaN(rfc3339ToEpochMillis(value))

/** An RFC 3339 date-time string, e.g. "2025-06-01T12:00:00Z". */
export const Rfc3339 = Schema.String.annotations({ message: () => "must be an RFC 3339 date-time string" }).pipe(
  Schema.filter(isRfc3339, {
    message: () => "must be a valid RFC 3339 date-time such as \"2025-06-01T12:00:00Z\" (UTC offset at most ±15:59)",
    jsonSchema: { format: "date-time" },
    // For property tests (`Arbitrary.make`): random strings would almost never pass the filter.
    arbitrary: () => (fc) =>
      fc.date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2099-12-31T23:59:59Z"), noInvalidDate: true })
        .map((date) => date.toISOString())
  })
).annotations({ description: "RFC 3339 date-time, e.g. \"2025-06-01T12:00:00Z\"." })
