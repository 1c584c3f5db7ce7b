/**
 * A small Server-Sent Events client for the tests and the benchmark: a spec-following parser
 * (WHATWG HTML §9.2.6) and `openSse`, which reads a stream over `fetch`.
 */

export interface SseMessage {
  readonly id: string | undefined
  readonly event: string
  readonly data: string
}

/** Incremental parser: feed text as it arrives, get whole messages back. */
export class SseParser {
  private buffer = ""
  private data: Array<string> = []
  private event = ""
  private id: string | undefined = undefined
  /** The last `id:` seen, as a browser would send in `Last-Event-ID`. */
  lastEventId: string | undefined = undefined
  retry: number | undefined = undefined
  comments = 0

  push(text: string): Array<SseMessage> {
    this.buffer += text
    const out: Array<SseMessage> = []
    let start = 0
    for (;;) {
      const end = this.buffer.indexOf("\n", start)
      if (end < 0) break
      let line = this.buffer.slice(start, end)
      if (line.endsWith("\r")) line = line.slice(0, -1)
      start = end + 1
      this.line(line, out)
    }
    this.buffer = this.buffer.slice(start)
    return out
  }

  private line(line: string, out: Array<SseMessage>): void {
    if (line === "") {
      if (this.id !== undefined) this.lastEventId = this.id
      if (this.data.length > 0) {
        out.push({ id: this.lastEventId, event: this.event || "message", data: this.data.join("\n") })
      }
      this.data = []
      this.event = ""
      this.id = undefined
      return
    }
    if (line.startsWith(":")) {
      this.comments += 1
      return
    }
    const colon = line.indexOf(":")
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? "" : line.slice(colon + 1)
    if (value.startsWith(" ")) value = value.slice(1)
    if (field === "data") this.data.push(value)
    else if (field === "event") this.event = value
    else if (field === "id" && !value.includes("\u0000")) this.id = value
    else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value)
  }
}

/** Parses complete SSE text (e.g. what the hub produced). */
export const parseSse = (text: string): Array<SseMessage> => new SseParser().push(text)

export interface SseConnection {
  readonly status: number
  readonly headers: Headers
  /** The body of a non-200 answer. */
  readonly errorBody: string
  readonly parser: SseParser
  /** Every message so far. */
  readonly messages: Array<SseMessage>
  /** Resolves when `predicate` holds for the messages so far (or rejects after `timeoutMs`). */
  readonly until: (predicate: (messages: ReadonlyArray<SseMessage>) => boolean, timeoutMs?: number) => Promise<void>
  /** Resolves when the server has closed the stream. */
  readonly closed: Promise<void>
  readonly close: () => void
  onMessage: ((message: SseMessage, receivedAt: number) => void) | undefined
}

export const openSse = async (url: string, headers: Record<string, string> = {}): Promise<SseConnection> => {
  const controller = new AbortController()
  const response = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal: controller.signal })
  const parser = new SseParser()
  const messages: Array<SseMessage> = []
  const waiters = new Set<() => void>()
  const notify = () => {
    for (const waiter of [...waiters]) waiter()
  }
  let ended = false
  const connection: SseConnection = {
    status: response.status,
    headers: response.headers,
    errorBody: response.status === 200 ? "" : await response.text(),
    parser,
    messages,
    onMessage: undefined,
    until: (predicate, timeoutMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (predicate(messages)) {
            waiters.delete(check)
            clearTimeout(timer)
            resolve()
          } else if (ended) {
            waiters.delete(check)
            clearTimeout(timer)
            reject(new Error(`stream closed; got ${messages.length} messages: ${messages.map((m) => m.event).join(",")}`))
          }
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`timed out; got ${messages.length} messages: ${messages.map((m) => m.event).join(",")}`))
        }, timeoutMs)
        waiters.add(check)
        check()
      }),
    closed: Promise.resolve(),
    close: () => controller.abort()
  }
  const read = async () => {
    if (response.status !== 200 || response.body === null) return
    const decoder = new TextDecoder()
    try {
      for await (const chunk of response.body) {
        const now = Date.now()
        for (const message of parser.push(decoder.decode(chunk, { stream: true }))) {
          messages.push(message)
          connection.onMessage?.(message, now)
        }
        notify()
      }
    } catch {
      // aborted by close()
    } finally {
      ended = true
      notify()
    }
  }
  return Object.assign(connection, { closed: read() })
}
