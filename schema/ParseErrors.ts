/** Turning a schema ParseError into the `{ field, reason }` of a rejection outcome. */
import type { ParseResult } from "effect"
import { ArrayFormatter } from "effect/ParseResult"

export interface ParseErrorSummary {
  /** Dotted path of the first issue, e.g. "data.amount"; "event" for the root. */
  readonly field: string
  /** Readable message of the first issue, e.g. "is missing". */
  readonly reason: string
}

const pathToField = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0 ? "event" : path.map((key) => String(key)).join(".")

/** All issues as `{ field, reason }`, in the order the schema found them. */
export const describeParseIssues = (error: ParseResult.ParseError): ReadonlyArray<ParseErrorSummary> =>
  ArrayFormatter.formatErrorSync(error).map((issue) => ({ field: pathToField(issue.path), reason: issue.message }))

/** The first issue of `error` as `{ field, reason }`. */
export const describeParseError = (error: ParseResult.ParseError): ParseErrorSummary => {
  const [first] = describeParseIssues(error)
  return first ?? { field: "event", reason: error.message }
}
