/**
 * A small Server-Sent Events client for the tests: `@effect/experimental`'s `Sse` parser
 * (the one `@effect/platform` clients use; WHATWG HTML §9.2.6) behind the interface the tests
 * read, and `openSse`, which reads a stream over `fetch`.
 */
import { Sse } from "@effect/experimental"
import { Duration } from "effect"

export interface SseMessage {
  readonly id: string | undefined
  readonly event: string
  readonly data: string
}

/** Incremental parser: feed text as it arrives, get whole messages back. */
export class SseParser {
  private readonly parser: Sse.Parser
  private pending: Array<SseMessage> = []
  /** Whether the text so far ends a line, so the next chunk starts one (for counting comments). */
  private atLineStart = true
  /** The last `id:` seen, as a browser would send in `Last-Event-ID` (and the id of later messages without one). */
  lastEventId: string | undefined = undefined
  retry: number | undefined = undefined
  /** Comment lines (`:` heartbeats), which the parser skips as the spec says; counted here. */
  comments = 0

  constructor() {
    this.parser = Sse.makeParser((event) => {
      if (event._tag === "Retry") {
        this.retry = Duration.toMillis(event.duration)
        return
      }
      if (event.id !== undefined) this.lastEventId = event.id
      this.pending.push({ id: this.lastEventId, event: event.event, data: event.data })
    })
  }

  push(text: string): Array<SseMessage> {
    const lines = text.split(/\r\n|\r|\n/)
    lines.forEach((line, index) => {
      if (line.startsWith(":") && (index > 0 || this.atLineStart)) this.comments += 1
    })
    if (text.length > 0) this.atLineStart = /[\r\n]$/.test(text)
    const error = this.parser.feed(text)
    if (error !== undefined) throw new Error(`SSE event too large (over ${error.cause.maxEventSize} bytes)`)
    const out = this.pending
    this.pending = []
    return out
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
