/**
 * How deep JSON text nests, read off the text itself: a parser accepts tens of thousands of
 * levels, while recursive code after it (formatting an error, `JSON.stringify`, PostgreSQL's
 * jsonb parser) does not. Shared by ingest admission and the console's request bodies.
 */

/** Deepest object/array nesting of JSON text, strings skipped: one pass, no allocation. */
export const jsonDepth = (text: string): number => {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 || c === 91) {
      if (++depth > max) max = depth
    } else if (c === 125 || c === 93) depth--
  }
  return max
}
