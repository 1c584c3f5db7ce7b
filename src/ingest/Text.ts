/**
 * PostgreSQL text (and jsonb) cannot hold U+0000 or unpaired UTF-16 surrogates; one such
 * character would fail a whole batch. Events carrying them are rejected at the door, naming
 * the field; dead-letter payloads (which must be stored whatever they hold) are cleaned.
 */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * The dotted path of the first string or key PostgreSQL cannot store, if any. Iterative: the
 * value may nest far deeper than the call stack allows (nesting is bounded later, at admission).
 */
export const unstorableTextAt = (value: unknown, path: ReadonlyArray<string> = []): string | undefined => {
  const stack: Array<{ readonly value: unknown; readonly path: ReadonlyArray<string> }> = [{ value, path }]
  while (stack.length > 0) {
    const top = stack.pop()!
    if (typeof top.value === "string") {
      if (UNSTORABLE.test(top.value)) return top.path.join(".") || "event"
      continue
    }
    if (typeof top.value !== "object" || top.value === null) continue
    // Pushed in reverse so the first offending field in document order is reported.
    const entries = Object.entries(top.value)
    for (const [key] of entries) if (UNSTORABLE.test(key)) return [...top.path, key].join(".")
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, inner] = entries[i]!
      stack.push({ value: inner, path: [...top.path, key] })
    }
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
