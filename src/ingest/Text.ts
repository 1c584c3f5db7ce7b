/**
 * PostgreSQL text (and jsonb) cannot hold U+0000 or unpaired UTF-16 surrogates; one such
 * character would fail a whole batch. Events carrying them are rejected at the door, naming
 * the field; dead-letter payloads (which must be stored whatever they hold) are cleaned.
 */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** The dotted path of the first string or key PostgreSQL cannot store, if any. */
export const unstorableTextAt = (value: unknown, path: ReadonlyArray<string> = []): string | undefined => {
  if (typeof value === "string") return UNSTORABLE.test(value) ? path.join(".") || "event" : undefined
  if (typeof value !== "object" || value === null) return undefined
  for (const [key, inner] of Object.entries(value)) {
    const here = [...path, key]
    if (UNSTORABLE.test(key)) return here.join(".")
    const found = unstorableTextAt(inner, here)
    if (found !== undefined) return found
  }
  return undefined
}

/**
 * JSON text decoded from UTF-8 can only carry U+0000 or a surrogate through a `\u` escape
 * (JSON forbids raw control characters, and UTF-8 decoding never yields surrogates). Text
 * without such an escape needs no per-value check; with one (even a valid pair) it gets it.
 */
export const jsonMayHoldUnstorable = (json: string): boolean => /\\u(?:0000|[dD][89a-fA-F])/.test(json)

/** NUL becomes the visible text `\u0000`, lone surrogates U+FFFD. */
export const storableText = (text: string): string =>
  text.replace(/\u0000/g, "\\u0000").replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD")
