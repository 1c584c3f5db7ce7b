/**
 * Building blocks of the fault scenarios: a PostgreSQL server we can stop and start, the real
 * app process, and a gateway-like sender that retries what was not acknowledged (as a real
 * gateway does) and remembers every event id the server acknowledged.
 * It sits in `testkit/` beside the scenarios (see
 * scenarios.ts): shared by the fault benchmark in `load/` and the fault test in `test/`.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { startServer as startPostgres, type RunningServer as Postgres } from "../../src/db/embedded/postgresProcess.js"
import { hashIngestKey } from "../../src/identity/IngestKey.js"
import { Fleet, parseMix } from "../fleet.js"
import { freePort, type RunningServer, startServer } from "../server.js"

export { freePort }

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A PostgreSQL server of our own, so a scenario can take the database away and bring it back. */
export const makeDatabaseServer = async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "machpay-fault-pg-"))
  await fs.chmod(dir, 0o755)
  const port = await freePort()
  let running: Postgres | undefined = await startPostgres({ dataDir: path.join(dir, "data"), port })
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  return {
    url,
    stop: async () => {
      await running?.stop()
      running = undefined
    },
    start: async () => {
      running ??= await startPostgres({ dataDir: path.join(dir, "data"), port })
    },
    destroy: async () => {
      await running?.stop()
      await fs.rm(dir, { recursive: true, force: true })
    }
  }
}

export interface Gateway {
  readonly id: string
  readonly key: string
}

export const seedGateways = async (url: string, count: number, runId: string): Promise<Array<Gateway>> => {
  const gateways = Array.from({ length: count }, (_, i) => ({ id: `gw-${i}`, key: `mpk_live_${randomBytes(32).toString("base64url")}` }))
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query("INSERT INTO vendors (id, name) VALUES ('fault', 'Fault vendor') ON CONFLICT DO NOTHING")
    for (const g of gateways) {
      await client.query(
        "INSERT INTO gateways (id, vendor_id, name, ingest_key_hash) VALUES ($1, 'fault', $1, $2) ON CONFLICT DO NOTHING",
        [g.id, hashIngestKey(g.key)]
      )
    }
  } finally {
    await client.end()
  }
  return gateways
}

export interface App {
  server: RunningServer | undefined
  readonly url: string
  readonly start: () => Promise<void>
  readonly signal: (signal: NodeJS.Signals) => Promise<number | null>
}

export const makeApp = async (env: Record<string, string>): Promise<App> => {
  const port = await freePort()
  const app: App = {
    server: undefined,
    url: `http://127.0.0.1:${port}`,
    start: async () => {
      app.server = await startServer(env, port)
    },
    signal: (signal) =>
      new Promise((resolve) => {
        const child = app.server?.child
        if (!child || child.exitCode !== null) return resolve(child?.exitCode ?? null)
        child.once("exit", (code, sig) => resolve(code ?? (sig ? -1 : null)))
        child.kill(signal)
      })
  }
  await app.start()
  return app
}

export interface SenderStats {
  sent: number
  acked: Set<string>
  duplicates: number
  refused: Map<string, number>
}

/**
 * Posts batches at a steady pace until stopped. Batches that were not acknowledged (503,
 * connection refused, 5xx) are retried with the same events after a pause — which is what
 * makes a server restart produce duplicates for the database keys to absorb.
 */
export const startSender = (url: string, gateways: ReadonlyArray<Gateway>, options: { batch: number; perSecond: number; runId: string }) => {
  const fleet = new Fleet(gateways.map((g) => g.id), 1000, parseMix("payment=70,blocked=10,intent=10,telemetry=5,unknown=5"), options.runId)
  const stats: SenderStats = { sent: 0, acked: new Set(), duplicates: 0, refused: new Map() }
  let stopped = false
  const retries: Array<{ gateway: Gateway; body: string; ids: Array<string> }> = []
  const post = async (job: { gateway: Gateway; body: string; ids: Array<string> }) => {
    try {
      const response = await fetch(`${url}/v1/ingest`, {
        method: "POST",
        headers: { authorization: `Bearer ${job.gateway.key}`, "content-type": "application/cloudevents-batch+json" },
        body: job.body
      })
      const text = await response.text()
      if (response.status === 202 || response.status === 200) {
        const parsed: { results: Array<{ id?: string; status: string }> } = JSON.parse(text)
        for (const r of parsed.results) {
          if (r.id !== undefined && (r.status === "accepted" || r.status === "duplicate")) stats.acked.add(r.id)
          if (r.status === "duplicate") stats.duplicates += 1
        }
        return
      }
      stats.refused.set(String(response.status), (stats.refused.get(String(response.status)) ?? 0) + 1)
    } catch (error) {
      const code = (error as { cause?: { code?: string } }).cause?.code ?? "network"
      stats.refused.set(code, (stats.refused.get(code) ?? 0) + 1)
    }
    retries.push(job)
  }
  const loop = (async () => {
    let i = 0
    const interval = 1000 / options.perSecond
    while (!stopped) {
      const started = Date.now()
      const retry = retries.shift()
      if (retry) await post(retry)
      const gateway = gateways[i++ % gateways.length]!
      const events = fleet.batch(gateway.id, options.batch)
      stats.sent += events.length
      await post({ gateway, body: JSON.stringify(events), ids: events.map((e) => e.id) })
      await sleep(Math.max(0, interval - (Date.now() - started)))
    }
  })()
  return {
    stats,
    /** Stops sending new batches; keeps retrying the unacknowledged ones until none is left or the deadline. */
    stop: async (deadlineMs = 60_000) => {
      stopped = true
      await loop
      const deadline = Date.now() + deadlineMs
      while (retries.length > 0 && Date.now() < deadline) {
        const job = retries.shift()!
        await post(job)
        if (retries.includes(job)) await sleep(500)
      }
      return retries.length
    }
  }
}

/** Waits until every acknowledged id is stored; returns how long it took and what is missing. */
export const verifyAcked = async (url: string, acked: ReadonlySet<string>, timeoutMs = 120_000) => {
  const started = Date.now()
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    for (;;) {
      const { rows } = await client.query<{ id: string; n: number }>(
        "SELECT id, count(*)::int AS n FROM telemetry_events GROUP BY id"
      )
      const stored = new Map(rows.map((r) => [r.id, r.n]))
      const missing = [...acked].filter((id) => !stored.has(id))
      const doubled = rows.filter((r) => r.n > 1).length
      if (missing.length === 0 || Date.now() - started > timeoutMs) {
        return { stored: stored.size, missing, doubled, drainSeconds: (Date.now() - started) / 1000 }
      }
      await sleep(250)
    }
  } finally {
    await client.end()
  }
}
