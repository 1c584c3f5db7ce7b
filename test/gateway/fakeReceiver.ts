/**
 * A fake receiver for the gateway library's tests: a plain `node:http` server that records every
 * request (body un-gzipped and parsed) and answers from a script, then as a healthy receiver would.
 */
import * as http from "node:http"
import * as zlib from "node:zlib"
import { Effect } from "effect"

export interface Received {
  readonly method: string
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  /** The bytes on the wire (what the signature covers). */
  readonly raw: Buffer
  readonly json: unknown
}

export interface Reply {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: unknown
}

const accepted = (events: ReadonlyArray<{ id?: string; source?: string; type?: string }>): Reply => ({
  status: 202,
  body: {
    accepted: events.length,
    duplicate: 0,
    rejected: 0,
    committed: false,
    results: events.map((e, index) => ({ index, id: e.id, source: e.source, type: e.type, status: "accepted" }))
  }
})

export const fakeReceiver = Effect.acquireRelease(
  Effect.async<{
    readonly url: string
    readonly received: Array<Received>
    readonly ingests: () => Array<Received>
    /** Replies used, in order, for the next ingest requests. */
    readonly script: Array<Reply | "reset">
    ready: number
    /** Intents POSTed to /settle (the fake settlement sink on the same server). */
    readonly settled: Array<unknown>
    readonly server: http.Server
  }>((resume) => {
    const state = {
      url: "",
      received: [] as Array<Received>,
      ingests: () => state.received.filter((r) => r.path === "/v1/ingest"),
      script: [] as Array<Reply | "reset">,
      ready: 200,
      settled: [] as Array<unknown>,
      server: undefined as unknown as http.Server
    }
    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const raw = Buffer.concat(chunks)
        const path = new URL(req.url ?? "/", "http://x").pathname
        if (path === "/health/ready") {
          res.writeHead(state.ready, { "content-type": "application/json" })
          res.end(JSON.stringify(state.ready === 200 ? { status: "ok" } : { status: "degraded", reason: "database unreachable" }))
          return
        }
        const text = req.headers["content-encoding"] === "gzip" ? zlib.gunzipSync(raw).toString() : raw.toString()
        const json: unknown = text.length > 0 ? JSON.parse(text) : undefined
        state.received.push({ method: req.method ?? "", path, headers: req.headers, raw, json })
        if (path === "/settle") {
          state.settled.push(json)
          res.writeHead(200).end()
          return
        }
        const reply = state.script.shift() ?? accepted(json as Array<{ id: string }>)
        if (reply === "reset") {
          req.socket.destroy()
          return
        }
        res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers })
        res.end(reply.body === undefined ? "" : JSON.stringify(reply.body))
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      state.url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`
      state.server = server
      resume(Effect.succeed(state))
    })
  }),
  (receiver) =>
    Effect.async<void>((resume) => {
      receiver.server.closeAllConnections()
      receiver.server.close(() => resume(Effect.void))
    })
)

/** Waits (in real time, up to 5 s) until `check` holds: the fake receiver runs on real sockets. */
export const eventually = (check: () => boolean, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      if (check()) return
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 10)))
    }
    return yield* Effect.die(new Error(`timed out waiting for ${what}`))
  })

/** Lets real I/O run for `ms` without moving the test clock. */
export const realPause = (ms: number) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))
