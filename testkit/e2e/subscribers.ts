/**
 * SSE subscribers that remember what they received, so the harness can check delivery per
 * subscriber: how many messages, a checksum of their event ids (the same md5 prefix sum the
 * database side computes), anything outside the subscriber's topics, and two latencies per
 * message — commit → client (the `id:` line's first field is the commit time, docs/realtime.md)
 * and event time → client (the gateway stamped `time` just before sending: ingest → client).
 * Plain `node:http`, so the client is cheap next to the server it measures.
 */
import * as http from "node:http"
import { idHash } from "../sim/report.js"
import { sseBlocks } from "../sseBlocks.js"

export interface SubscriberSpec {
  readonly name: string
  readonly topics: string
  readonly kind: "ticker" | "vendor" | "agent"
  /** The gateway or agent of the topic. */
  readonly key: string
  readonly headers: Readonly<Record<string, string>>
}

export interface Received {
  readonly spec: SubscriberSpec
  messages: number
  idSum: bigint
  /** Messages whose gateway/agent is not the subscriber's (must stay 0). */
  foreign: number
  resets: number
  ended: boolean
}

export interface Subscribers {
  readonly received: ReadonlyArray<Received>
  readonly commitLatencies: Array<number>
  readonly ingestLatencies: Array<number>
  readonly close: () => void
}

const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY })

export const openSubscribers = (baseUrl: string, specs: ReadonlyArray<SubscriberSpec>): Promise<Subscribers> =>
  new Promise((resolve, reject) => {
    const received: Array<Received> = specs.map((spec) => ({ spec, messages: 0, idSum: 0n, foreign: 0, resets: 0, ended: false }))
    const commitLatencies: Array<number> = []
    const ingestLatencies: Array<number> = []
    const requests: Array<http.ClientRequest> = []
    let closing = false
    let pending = specs.length
    const ready = () => {
      if (--pending === 0) resolve({ received, commitLatencies, ingestLatencies, close })
    }
    const close = () => {
      closing = true
      for (const r of requests) r.destroy()
    }
    const onMessage = (r: Received, block: string, now: number) => {
      let id = ""
      let data = ""
      let event = ""
      for (const line of block.split("\n")) {
        if (line.startsWith("id: ")) id = line.slice(4)
        else if (line.startsWith("data: ")) data += line.slice(6)
        else if (line.startsWith("event: ")) event = line.slice(7)
      }
      if (event === "reset") r.resets += 1
      if (id === "" || data === "") return
      r.messages += 1
      commitLatencies.push(now - Number(id.slice(0, id.indexOf("-"))))
      const message = JSON.parse(data) as { id?: string; time?: string; gateway_id?: string; data?: { agent_id?: string } }
      if (message.time !== undefined) ingestLatencies.push(now - Date.parse(message.time))
      if (r.spec.kind === "ticker") return
      if (message.id !== undefined) r.idSum += idHash(message.id)
      const owner = r.spec.kind === "vendor" ? message.gateway_id : message.data?.agent_id
      if (owner !== r.spec.key) r.foreign += 1
    }
    if (specs.length === 0) resolve({ received, commitLatencies, ingestLatencies, close })
    const open = (r: Received, attempt: number) => {
      const url = new URL(`/v1/telemetry/live?topics=${encodeURIComponent(r.spec.topics)}`, baseUrl)
      const request = http.get(url, { agent, headers: { accept: "text/event-stream", ...r.spec.headers } }, (response) => {
        const status = response.statusCode ?? 0
        if ((status === 503 || status === 429) && attempt < 20 && !closing) {
          response.resume()
          setTimeout(() => open(r, attempt + 1), Number(response.headers["retry-after"] ?? "1") * 1000)
          return
        }
        if (status !== 200) {
          response.resume()
          return reject(new Error(`subscriber ${r.spec.name}: HTTP ${status}`))
        }
        ready()
        response.setEncoding("utf8")
        response.on("data", sseBlocks((block, now) => onMessage(r, block, now)))
        response.on("end", () => {
          if (!closing) r.ended = true
        })
      })
      request.on("error", (error) => {
        if (closing) return
        r.ended = true
        if (pending > 0) reject(error)
      })
      requests.push(request)
    }
    for (const r of received) open(r, 0)
  })
