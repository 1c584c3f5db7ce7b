/**
 * Turning a schema ParseError into the `{ field, reason }` of a rejection outcome.
 *
 * A schema's default message quotes the value it refused ("Expected …, actual <value>"), and the
 * value is whatever was sent: formatting a 1 MB array made a 1 MB reason (stored with the dead
 * letter and returned in the response), and an array nested a few thousand levels deep overflowed
 * the stack of the formatter, so one event failed its whole request. The values in an issue are
 * therefore replaced by bounded previews before formatting, and a reason is cut at
 * `MAX_REASON_LENGTH` characters.
 */
import { ParseResult } from "effect"
import { ArrayFormatter } from "effect/ParseResult"

export interface ParseErrorSummary {
  /** Dotted path of the first issue, e.g. "data.amount"; "event" for the root. */
  readonly field: string
  /** Readable message of the first issue, e.g. "is missing". */
  readonly reason: string
}

/** Longest reason returned (characters); longer ones end in "…". */
export const MAX_REASON_LENGTH = 300
/** Longest field (a path of names as sent, e.g. a 1 MB extension name) returned. */
export const MAX_FIELD_LENGTH = 300

const PREVIEW_DEPTH = 2
const PREVIEW_ITEMS = 5
const PREVIEW_TEXT = 80

/** Shown in place of what a preview leaves out (formatted by its `toString`, without quotes). */
class Elided {
  constructor(readonly text: string) {}
  toString() {
    return this.text
  }
}

/** `value` cut to a few levels, items and characters, so formatting it is cheap and short. */
export const preview = (value: unknown, depth = 0): unknown => {
  if (typeof value === "string") return value.length > PREVIEW_TEXT ? `${value.slice(0, PREVIEW_TEXT)}…` : value
  if (typeof value !== "object" || value === null) return value
  if (depth >= PREVIEW_DEPTH) return new Elided(Array.isArray(value) ? "[…]" : "{…}")
  if (Array.isArray(value)) {
    const items: Array<unknown> = value.slice(0, PREVIEW_ITEMS).map((item) => preview(item, depth + 1))
    if (value.length > PREVIEW_ITEMS) items.push(new Elided(`…${value.length - PREVIEW_ITEMS} more`))
    return items
  }
  if (value instanceof Date) return value
  const keys = Object.keys(value)
  const out: Record<string, unknown> = {}
  // defineProperty: JSON.parse makes "__proto__" an own key; an assignment would set the prototype.
  const put = (key: string, v: unknown) => Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true })
  for (const key of keys.slice(0, PREVIEW_ITEMS)) {
    put(key.length > PREVIEW_TEXT ? `${key.slice(0, PREVIEW_TEXT)}…` : key, preview((value as Record<string, unknown>)[key], depth + 1))
  }
  if (keys.length > PREVIEW_ITEMS) put("…", new Elided(`${keys.length - PREVIEW_ITEMS} more keys`))
  return out
}

/** The same issue tree with every value it carries replaced by its preview. */
const bounded = (issue: ParseResult.ParseIssue): ParseResult.ParseIssue => {
  switch (issue._tag) {
    case "Type":
      return new ParseResult.Type(issue.ast, preview(issue.actual), issue.message)
    case "Forbidden":
      return new ParseResult.Forbidden(issue.ast, preview(issue.actual), issue.message)
    case "Unexpected":
      return new ParseResult.Unexpected(preview(issue.actual), issue.message)
    case "Missing":
      return issue
    case "Pointer":
      return new ParseResult.Pointer(issue.path, preview(issue.actual), bounded(issue.issue))
    case "Refinement":
      return new ParseResult.Refinement(issue.ast, preview(issue.actual), issue.kind, bounded(issue.issue))
    case "Transformation":
      return new ParseResult.Transformation(issue.ast, preview(issue.actual), issue.kind, bounded(issue.issue))
    case "Composite": {
      const issues = Array.isArray(issue.issues)
        ? (issue.issues as ReadonlyArray<ParseResult.ParseIssue>).map(bounded) as [ParseResult.ParseIssue, ...Array<ParseResult.ParseIssue>]
        : bounded(issue.issues as ParseResult.ParseIssue)
      return new ParseResult.Composite(issue.ast, preview(issue.actual), issues)
    }
  }
}

const pathToField = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0 ? "event" : path.map((key) => String(key)).join(".")

const cut = (text: string, max = MAX_REASON_LENGTH): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text)

/** All issues as `{ field, reason }`, in the order the schema found them. */
export const describeParseIssues = (error: ParseResult.ParseError): ReadonlyArray<ParseErrorSummary> =>
  ArrayFormatter.formatIssueSync(bounded(error.issue)).map((issue) => ({ field: cut(pathToField(issue.path), MAX_FIELD_LENGTH), reason: cut(issue.message) }))

/** The first issue of `error` as `{ field, reason }`. */
export const describeParseError = (error: ParseResult.ParseError): ParseErrorSummary => {
  const [first] = describeParseIssues(error)
  return first ?? { field: "event", reason: "does not match the schema" }
}
