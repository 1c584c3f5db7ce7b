/**
 * Receivers side by side, one run: for each durability mode (`journal`, `jetstream`) and each
 * receiver count (1, 2, 3), a fresh database, that many receiver processes (ROLES=receiver) and,
 * for `jetstream`, one nats-server shared by the run; the same open-loop load (pre-encoded batches,
 * sent at their scheduled times, split round-robin across the receivers) for `--duration` seconds.
 * Per step it prints:
 *
 *   ack p50/p99      from each request's *scheduled* send time to its answer (open loop: a slow
 *                    receiver shows up as latency, not as a lower send rate)
 *   committed/s      rows in the raw log at the end of the sending window ÷ the window
 *   drain            how long after the window until every acknowledged event was committed
 *   capacity/s       acknowledged events ÷ (window + drain): what the receivers sustained
 *
 * To find the ceiling, drive `--rate` above what one receiver commits. On a shared machine the
 * figures mostly measure the neighbours: run it on a quiet one.
 *
 *   npx tsx load/receivers-bench.ts --rate 5000 --duration 20
 *   npx tsx load/receivers-bench.ts --rate 500 --duration 5 --receivers 1,2 --modes jetstream   (a smoke run)
 *
 * Options (defaults): --admin-url postgres://postgres@127.0.0.1:5432/postgres  --rate 2000 (events/s,
 *   all receivers together)  --batch 100  --gateways 30  --duration 10 (s per step)
 *   --receivers 1,2,3  --modes journal,jetstream  --nats-url (use this NATS instead of starting one)
 *   --nats-replicas 1  --env KEY=VALUE (extra server environment, repeatable)
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { hashIngestKey } from "../src/identity/IngestKey.js"
import { envPairs, parseOptions } from "./lib/args.js"
import { Fleet, parseMix } from "../testkit/fleet.js"
import { freePort, type RunningServer, startServer } from "../testkit/server.js"
import { fmt, summary } from "../testkit/stats.js"

const args = parseOptions({
  "admin-url": "postgres://postgres@127.0.0.1:5432/postgres",
  rate: 2000,
  batch: 100,
  gateways: 30,
  duration: 10,
  receivers: "1,2,3",
  modes: "journal,jetstream",
  "nats-url": "",
  "nats-replicas": 1
}, ["env"])

const counts = args.receivers.split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0)
const modes = args.modes.split(",").map((m) => m.trim()).filter((m) => m === "journal" || m === "jetstream")
const extraEnv = envPairs(args.env)
const newKey = () => `mpk_live_${randomBytes(32).toString("base64url")}`

const post = (agent: http.Agent, url: URL, key: string, body: Buffer) =>
  new Promise<number>((resolve) => {
    const req = http.request({
      host: url.hostname,
      port: url.port,
      path: "/v1/ingest",
      method: "POST",
      agent,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/cloudevents-batch+json", "content-length": body.byteLength }
    }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode ?? 0))
    })
    req.on("error", () => resolve(0))
    req.end(body)
  })

/** One nats-server with JetStream on a free port, in a temporary directory. */
const startNats = async (): Promise<{ url: string; stop: () => Promise<void> }> => {
  const port = await freePort()
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "machpay-bench-nats-"))
  const child: ChildProcess = spawn("nats-server", ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir], { stdio: "ignore" })
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = new net.Socket()
      socket.once("connect", () => (socket.destroy(), resolve(true)))
      socket.once("error", () => resolve(false))
      socket.connect(port, "127.0.0.1")
    })
    if (up) break
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    stop: async () => {
      child.kill("SIGKILL")
      await fs.rm(dir, { recursive: true, force: true })
    }
  }
}

interface StepResult {
  readonly mode: string
  readonly receivers: number
  readonly sent: number
  readonly acknowledged: number
  readonly refused: number
  readonly ack: { p50: number; p99: number }
  readonly committedPerSec: number
  readonly drainMs: number
  readonly capacityPerSec: number
}

const step = async (mode: string, receivers: number, natsUrl: string, tag: string): Promise<StepResult> => {
  const admin = new pg.Client({ connectionString: args["admin-url"] })
  await admin.connect()
  const dbName = `recv_${tag}_${Date.now().toString(36)}`
  await admin.query(`CREATE DATABASE ${dbName}`)
  await admin.end()
  const dbUrl = Object.assign(new URL(args["admin-url"]), { pathname: `/${dbName}` }).toString()
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "machpay-recv-"))
  const env: Record<string, string> = {
    DATABASE_URL: dbUrl,
    ROLES: "receiver",
    INGEST_DURABILITY: mode,
    ...(mode === "jetstream"
      ? { NATS_URL: natsUrl, NATS_INGEST_STREAM: `BENCH_${tag}`, NATS_STREAM: `BENCH_LIVE_${tag}`, NATS_INGEST_REPLICAS: String(args["nats-replicas"]) }
      : {}),
    ...extraEnv
  }
  const servers: Array<RunningServer> = []
  // The first one migrates the fresh database; the others start beside it.
  servers.push(await startServer({ ...env, DATA_DIR: path.join(dataDir, "r0") }, await freePort()))
  servers.push(...await Promise.all(Array.from({ length: receivers - 1 }, async (_, i) =>
    startServer({ ...env, DATA_DIR: path.join(dataDir, `r${i + 1}`) }, await freePort()))))
  const db = new pg.Client({ connectionString: dbUrl })
  await db.connect()
  try {
    const gateways = Array.from({ length: args.gateways }, (_, i) => ({ id: `gw-${i}`, key: newKey() }))
    await db.query("INSERT INTO vendors (id, name) VALUES ('bench', 'Bench')")
    await db.query(
      `INSERT INTO gateways (id, vendor_id, name, ingest_key_hash)
       SELECT g->>'id', 'bench', g->>'id', g->>'hash' FROM jsonb_array_elements($1::jsonb) g`,
      [JSON.stringify(gateways.map((g) => ({ id: g.id, hash: hashIngestKey(g.key) })))]
    )
    // Everything encoded before the clock starts: the generator only sends.
    const fleet = new Fleet(gateways.map((g) => g.id), 1000, parseMix("payment=60,blocked=10,solvency=5,intent=15,telemetry=5,unknown=5"), dbName)
    const batches = Math.max(1, Math.floor((args.rate * args.duration) / args.batch))
    const bodies = Array.from({ length: batches }, (_, i) => {
      const gateway = gateways[i % gateways.length]!
      return { key: gateway.key, body: Buffer.from(JSON.stringify(fleet.batch(gateway.id, args.batch))) }
    })
    const urls = servers.map((s) => new URL(s.url))
    const agent = new http.Agent({ keepAlive: true, maxSockets: 128 })
    const acks: Array<number> = []
    let acknowledged = 0
    let refused = 0
    const start = performance.now()
    await Promise.all(bodies.map((b, i) => {
      const due = start + (i * args.batch * 1000) / Math.max(1, args.rate)
      return new Promise<void>((resolve) =>
        setTimeout(async () => {
          const status = await post(agent, urls[i % urls.length]!, b.key, b.body)
          acks.push(performance.now() - due)
          if (status === 202 || status === 200) acknowledged += args.batch
          else refused += 1
          resolve()
        }, Math.max(0, due - performance.now())))
    }))
    const windowMs = Math.max(args.duration * 1000, performance.now() - start)
    const rows = async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM telemetry_events")).rows[0]?.n ?? 0
    const atWindowEnd = await rows()
    const drainStart = performance.now()
    let committed = atWindowEnd
    while (committed < acknowledged && performance.now() - drainStart < 120_000) {
      await new Promise((r) => setTimeout(r, 100))
      committed = await rows()
    }
    const drainMs = performance.now() - drainStart
    agent.destroy()
    const ack = summary(acks)
    return {
      mode,
      receivers,
      sent: batches * args.batch,
      acknowledged,
      refused,
      ack: { p50: ack.p50, p99: ack.p99 },
      committedPerSec: (atWindowEnd * 1000) / windowMs,
      drainMs,
      capacityPerSec: (committed * 1000) / (windowMs + drainMs)
    }
  } finally {
    await db.end()
    await Promise.all(servers.map((s) => s.stop()))
    await fs.rm(dataDir, { recursive: true, force: true })
    const cleanup = new pg.Client({ connectionString: args["admin-url"] })
    await cleanup.connect()
    await cleanup.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined)
    await cleanup.end()
  }
}

const main = async () => {
  const nats = modes.includes("jetstream") && args["nats-url"] === "" ? await startNats() : undefined
  const natsUrl = nats?.url ?? args["nats-url"]
  const results: Array<StepResult> = []
  try {
    for (const mode of modes) {
      for (const n of counts) {
        process.stderr.write(`step: ${mode}, ${n} receiver(s), ${args.rate} events/s for ${args.duration} s\n`)
        results.push(await step(mode, n, natsUrl, `${mode.slice(0, 2)}${n}_${randomBytes(2).toString("hex")}`))
      }
    }
  } finally {
    await nats?.stop()
  }
  console.log(`\nreceivers bench: ${args.rate} events/s offered (batches of ${args.batch}), ${args.duration} s per step\n`)
  console.log("| durability | receivers | acknowledged | refused req | ack p50 ms | ack p99 ms | committed/s | drain ms | capacity/s |")
  console.log("|---|---|---|---|---|---|---|---|---|")
  for (const r of results) {
    console.log(
      `| ${r.mode} | ${r.receivers} | ${r.acknowledged}/${r.sent} | ${r.refused} | ${fmt(r.ack.p50)} | ${fmt(r.ack.p99)} | ${fmt(r.committedPerSec, 0)} | ${fmt(r.drainMs, 0)} | ${fmt(r.capacityPerSec, 0)} |`
    )
  }
}

main().then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
