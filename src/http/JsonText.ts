/**
 * PostgreSQL text (and jsonb) cannot hold U+0000 or unpaired UTF-16 surrogates; one such
 * character would fail a whole batch. Events carrying them are rejected at the door, naming
 * the field; dead-letter payloads (which must be stored whatever they hold) are cleaned.
 */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * The dotted path of the first leaf or key (in document order) that `isBad` flags, if any.
 * Iterative: the value may nest far deeper than the call stack allows (nesting is bounded later,
 * at admission).
 */
const firstAt = (
  value: unknown,
  path: ReadonlyArray<string>,
  isBadLeaf: (leaf: unknown) => boolean,
  isBadKey: (key: string) => boolean
): string | undefined => {
  // Each entry points at its parent instead of copying the path: a value nested 20,000 deep
  // costs 20,000 entries, not 200 million path elements; the path is built only when found.
  interface Entry {
    readonly value: unknown
    readonly key: string | undefined
    readonly parent: Entry | undefined
  }
  const pathOf = (entry: Entry | undefined, last?: string): string => {
    const keys: Array<string> = last === undefined ? [] : [last]
    for (let at = entry; at !== undefined; at = at.parent) if (at.key !== undefined) keys.push(at.key)
    return [...path, ...keys.reverse()].join(".") || "event"
  }
  const stack: Array<Entry> = [{ value, key: undefined, parent: undefined }]
  while (stack.length > 0) {
    const top = stack.pop()!
    if (typeof top.value !== "object" || top.value === null) {
      if (isBadLeaf(top.value)) return pathOf(top)
      continue
    }
    // Pushed in reverse so the first offending field in document order is reported.
    const entries = Object.entries(top.value)
    for (const [key] of entries) if (isBadKey(key)) return pathOf(top, key)
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, inner] = entries[i]!
      stack.push({ value: inner, key, parent: top })
    }
  }
  return undefined
}

/** The dotted path of the first string or key PostgreSQL cannot store, if any. */
export const unstorableTextAt = (value: unknown, path: ReadonlyArray<string> = []): string | undefined =>
  firstAt(value, path, (leaf) => typeof leaf === "string" && UNSTORABLE.test(leaf), (key) => UNSTORABLE.test(key))

/**
 * The dotted path of the first number JSON.parse read as ±Infinity (beyond ±1.8e308), if any:
 * it would be stored as `null`, silently. (JSON has no NaN.)
 */
export const overflowingNumberAt = (value: unknown): string | undefined =>
  firstAt(value, [], (leaf) => typeof leaf === "number" && !Number.isFinite(leaf), () => false)

/**
 * Whether JSON text may hold a number beyond a double's range: after `:`, `,` or `[`, a number
 * with an exponent of three or more digits, or with 309 digits before its point. Text without
 * one needs no per-value check (a match inside a string only costs that check).
 */
export const jsonMayOverflow = (json: string): boolean =>
  /[:,[]\s*-?(?:[0-9]+(?:\.[0-9]+)?[eE][+]?[0-9]{3}|[0-9]{309})/.test(json)

/**
 * JSON text decoded from UTF-8 can only carry U+0000 or a surrogate through a `\u` escape
 * (JSON forbids raw control characters, and UTF-8 decoding never yields surrogates). Text
 * without such an escape needs no per-value check; with one (even a valid pair) it gets it.
 */
export const jsonMayHoldUnstorable = (json: string): boolean => /\\u(?:0000|[dD][89a-fA-F])/.test(json)

/** NUL becomes the visible text `\u0000`, lone surrogates U+FFFD. */
export const storableText = (text: string): string =>
  text.replace(/\u0000/g, "\\u0000").replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD")
