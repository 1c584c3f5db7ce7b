/**
 * Many SSE subscribers in one process, kept cheap so the client is not what is measured: plain
 * `node:http`, and a scanner that only reads each message's `id:` (whose first field is the
 * commit time in epoch ms — see docs/realtime.md) to compute commit → client latency.
 */
import * as http from "node:http"
import { sseBlocks } from "../../testkit/sseBlocks.js"

export interface SubscriberSpec {
  readonly topics: string
  readonly headers: Readonly<Record<string, string>>
}

export interface Pool {
  readonly connected: () => number
  readonly messages: () => number
  readonly resets: () => number
  /** Streams the server closed (slow consumer, expiry) or that failed. */
  readonly dropped: () => number
  /** Opening attempts answered 429/503 and retried after `Retry-After`, as EventSource does. */
  readonly retried: () => number
  /** Latencies (ms) recorded since the last call, and clears them. */
  readonly takeLatencies: () => Array<number>
  readonly close: () => void
}

const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY })

export const subscribe = (baseUrl: string, specs: ReadonlyArray<SubscriberSpec>): Promise<Pool> =>
  new Promise((resolve, reject) => {
    let connected = 0
    let messages = 0
    let resets = 0
    let dropped = 0
    let retried = 0
    let latencies: Array<number> = []
    let pending = specs.length
    let closing = false
    const requests: Array<http.ClientRequest> = []

    const done = () => {
      pending -= 1
      if (pending === 0) {
        resolve({
          connected: () => connected,
          messages: () => messages,
          resets: () => resets,
          dropped: () => dropped,
          retried: () => retried,
          takeLatencies: () => {
            const out = latencies
            latencies = []
            return out
          },
          close: () => {
            closing = true
            for (const request of requests) request.destroy()
          }
        })
      }
    }

    if (specs.length === 0) {
      pending = 1
      done()
    }
    const open = (spec: SubscriberSpec, attempt: number): void => {
      const url = new URL(`/v1/telemetry/live?topics=${encodeURIComponent(spec.topics)}`, baseUrl)
      const request = http.get(url, { agent, headers: { accept: "text/event-stream", ...spec.headers } }, (response) => {
        const status = response.statusCode ?? 0
        if ((status === 503 || status === 429) && attempt < 20 && !closing) {
          // The server asks to come back later (database busy, stream limit): do as told.
          retried += 1
          response.resume()
          const seconds = Number(response.headers["retry-after"] ?? "1")
          setTimeout(() => open(spec, attempt + 1), (Number.isFinite(seconds) ? seconds : 1) * 1000)
          return
        }
        if (status !== 200) {
          reject(new Error(`subscriber ${spec.topics}: HTTP ${response.statusCode}`))
          response.resume()
          return
        }
        connected += 1
        done()
        response.setEncoding("utf8")
        response.on("data", sseBlocks((block, now) => {
          if (!block.startsWith("id: ")) return
          messages += 1
          const dash = block.indexOf("-", 4)
          latencies.push(now - Number(block.slice(4, dash)))
          if (block.includes("\nevent: reset\n")) resets += 1
        }))
        response.on("end", () => {
          connected -= 1
          if (!closing) dropped += 1
        })
      })
      request.on("error", (error) => {
        if (closing) return
        dropped += 1
        if (pending > 0) reject(error)
      })
      requests.push(request)
    }
    for (const spec of specs) open(spec, 0)
  })
