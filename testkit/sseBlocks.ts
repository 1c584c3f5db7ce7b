/**
 * The SSE framing the benchmark and end-to-end clients share: a `data` handler (for a stream
 * read with `setEncoding("utf8")`) that cuts the text into blocks at blank lines and hands each
 * complete block, with the time its chunk arrived, to `onBlock`. A block split across chunks
 * waits for its end. Hand-written on purpose: the clients count hundreds of thousands of
 * messages a second beside the server, on the same cores, and need no more than this.
 */
export const sseBlocks = (onBlock: (block: string, now: number) => void) => {
  let carry = ""
  return (chunk: string): void => {
    const now = Date.now()
    const text = carry + chunk
    let start = 0
    for (;;) {
      const end = text.indexOf("\n\n", start)
      if (end < 0) break
      onBlock(text.slice(start, end), now)
      start = end + 2
    }
    carry = text.slice(start)
  }
}
