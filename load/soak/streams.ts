/**
 * Long-lived SSE streams that go through the whole life cycle a console goes through: a token
 * that expires (the server ends the stream with `event: end` / `token_expired`), a fresh token
 * (half the streams exchange it for a single-use ticket, as a browser's EventSource must), a
 * reconnect with `Last-Event-ID`, heartbeats in between. Anonymous ticker streams never expire:
 * they only see heartbeats, for the whole run.
 *
 * Plain `node:http` and a scanner that reads only `id:`, `event:` and heartbeat lines, so the
 * client stays cheap beside the server on a shared machine. A stream that receives nothing for
 * `stallMs` (several heartbeat intervals) is counted as stalled and reconnected.
 */
import * as http from "node:http"
import { claimsFor, type PrincipalSpec } from "../../src/identity/Jwt.js"
import { signHs256 } from "../../testkit/jwt.js"
import { sseBlocks } from "../../testkit/sseBlocks.js"

export interface CyclingSpec {
  readonly topics: string
  /** Absent: an anonymous ticker stream (no token, never expires). */
  readonly principal?: PrincipalSpec
  readonly viaTicket: boolean
}

export interface CycleOptions {
  readonly baseUrl: string
  readonly secret: string
  /** Token lifetime; each token gets ±25 % jitter so expiries spread out. */
  readonly tokenTtlSeconds: number
  readonly stallMs: number
}

export interface Counters {
  connects: number
  /** Streams the server ended with `token_expired` (one full expiry → reconnect cycle each). */
  expiryCycles: number
  ticketsRedeemed: number
  heartbeats: number
  messages: number
  resets: number
  /** Ended by the server for another reason, or by the network, or failed to connect. */
  unexpectedEnds: number
  stalls: number
  refused: Map<string, number>
}

export interface StreamPool {
  readonly counters: Counters
  /** Streams currently open (200 received, not ended). */
  readonly open: () => number
  /** Commit → arrival latencies (ms) of live messages since the last call. */
  readonly takeLatencies: () => Array<number>
  readonly close: () => void
}

const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY })

export const startStreams = (specs: ReadonlyArray<CyclingSpec>, options: CycleOptions): StreamPool => {
  const counters: Counters = {
    connects: 0, expiryCycles: 0, ticketsRedeemed: 0, heartbeats: 0, messages: 0, resets: 0, unexpectedEnds: 0,
    stalls: 0, refused: new Map()
  }
  let open = 0
  let closing = false
  let latencies: Array<number> = []
  const live = new Set<http.ClientRequest>()
  const timers = new Set<NodeJS.Timeout>()
  const base = new URL(options.baseUrl)

  const later = (ms: number, f: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      if (!closing) f()
    }, ms)
    timers.add(timer)
  }

  const refuse = (what: string) => counters.refused.set(what, (counters.refused.get(what) ?? 0) + 1)

  const mint = (principal: PrincipalSpec) => {
    const ttl = Math.max(5, Math.round(options.tokenTtlSeconds * (0.75 + Math.random() * 0.5)))
    return signHs256(claimsFor(principal, { now: Date.now() / 1000, ttlSeconds: ttl }), options.secret)
  }

  const ticketFor = (token: string) =>
    new Promise<string | undefined>((resolve) => {
      const req = http.request({
        host: base.hostname, port: base.port, path: "/v1/telemetry/tickets", method: "POST", agent,
        headers: { authorization: `Bearer ${token}`, "content-length": 0 }
      }, (res) => {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (c: string) => (text += c))
        res.on("end", () => {
          if (res.statusCode !== 200) {
            refuse(`ticket ${res.statusCode}`)
            return resolve(undefined)
          }
          resolve((JSON.parse(text) as { ticket: string }).ticket)
        })
      })
      req.on("error", () => {
        refuse("ticket network")
        resolve(undefined)
      })
      req.end()
    })

  const run = async (spec: CyclingSpec, lastId: string | undefined): Promise<void> => {
    if (closing) return
    const headers: Record<string, string> = { accept: "text/event-stream" }
    let query = `topics=${encodeURIComponent(spec.topics)}`
    if (spec.principal !== undefined) {
      const token = mint(spec.principal)
      if (spec.viaTicket) {
        const ticket = await ticketFor(token)
        if (ticket === undefined) return later(1000, () => void run(spec, lastId))
        query += `&ticket=${encodeURIComponent(ticket)}`
      } else headers.authorization = `Bearer ${token}`
    }
    if (lastId !== undefined) headers["last-event-id"] = lastId
    const connectedAt = Date.now()
    let cursor = lastId
    let endReason: string | undefined
    let stalled = false
    let opened = false
    let settled = false
    let watchdog: NodeJS.Timeout | undefined
    /** Runs once per connection, whichever of end / close / error comes first. */
    const settle = (retryMs: number | undefined) => {
      if (settled) return
      settled = true
      if (watchdog !== undefined) clearTimeout(watchdog)
      live.delete(req)
      if (opened) open -= 1
      if (closing) return
      if (retryMs !== undefined) return later(retryMs, () => void run(spec, cursor))
      if (endReason === "token_expired") {
        counters.expiryCycles += 1
        return later(50 + Math.random() * 200, () => void run(spec, cursor))
      }
      if (stalled) counters.stalls += 1
      else counters.unexpectedEnds += 1
      later(1000, () => void run(spec, cursor))
    }
    const req = http.get({ host: base.hostname, port: base.port, path: `/v1/telemetry/live?${query}`, agent, headers }, (res) => {
      if (res.statusCode !== 200) {
        refuse(`live ${res.statusCode}`)
        res.resume()
        return settle(1000)
      }
      opened = true
      open += 1
      counters.connects += 1
      if (spec.viaTicket) counters.ticketsRedeemed += 1
      const arm = () => {
        if (watchdog !== undefined) clearTimeout(watchdog)
        watchdog = setTimeout(() => {
          stalled = true
          req.destroy()
        }, options.stallMs)
      }
      arm()
      res.setEncoding("utf8")
      const blocks = sseBlocks((block, now) => {
        if (block.startsWith("id: ")) {
          const newline = block.indexOf("\n")
          cursor = block.slice(4, newline < 0 ? undefined : newline)
          counters.messages += 1
          const committed = Number(cursor.slice(0, cursor.indexOf("-")))
          // Replayed history was committed before this connection: its age is the reconnect gap.
          if (committed >= connectedAt) latencies.push(now - committed)
          if (block.includes("\nevent: reset\n")) counters.resets += 1
        } else if (block === ": heartbeat") counters.heartbeats += 1
        else if (block.startsWith("event: end\n")) {
          endReason = /"reason":"([a-z_]+)"/.exec(block)?.[1] ?? "unknown"
        }
      })
      res.on("data", (chunk: string) => {
        arm()
        blocks(chunk)
      })
      res.on("end", () => settle(undefined))
      res.on("error", () => settle(undefined))
      res.on("close", () => settle(undefined))
    })
    req.on("error", () => {
      if (!opened && !settled) counters.unexpectedEnds += 1
      settle(opened ? undefined : 1000)
    })
    live.add(req)
  }

  // Spread the first connections over a few seconds, as real consoles arrive.
  specs.forEach((spec, i) => later((i * 5000) / Math.max(1, specs.length), () => void run(spec, undefined)))

  return {
    counters,
    open: () => open,
    takeLatencies: () => {
      const out = latencies
      latencies = []
      return out
    },
    close: () => {
      closing = true
      for (const timer of timers) clearTimeout(timer)
      for (const req of live) req.destroy()
    }
  }
}
