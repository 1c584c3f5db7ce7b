/**
 * Live latency, outside in: a probe gateway posts payments at a fixed rate; each one's time from
 * its *scheduled* POST to its arrival on a `ticker` SSE stream is measured (plain `node:http` on
 * both sides, so the client is not what is measured). Optionally under background load: a fleet
 * posting `--rate` events/s and `--subscribers` vendor/agent streams held open.
 *
 *   npx tsx load/live-latency.ts --probe-rate 10 --duration 20                         (quiet)
 *   npx tsx load/live-latency.ts --rate 5000 --subscribers 1000 --duration 20          (busy)
 *
 * Options (defaults): --admin-url postgres://postgres@127.0.0.1:5432/postgres  --probe-rate 10
 *   --probes 2 (ticker streams)  --rate 0 (background events/s)  --batch 100  --gateways 50
 *   --agents 1000  --subscribers 0 (background streams: 70 % vendor, 30 % agent)  --duration 20
 *   --wait-commit (probes ask for Prefer: wait=commit; its answer time is printed too)
 *   --env KEY=VALUE (extra server environment, repeatable)  --profile (CPU profile of the server → tmp/profiles)
 *   --split (a receiver process takes the POSTs, an api process serves the streams: the
 *            cross-process path — LISTEN/NOTIFY by default, JetStream with --env REALTIME_BUS=nats)
 *   --heavy-rate 0 (requests/s from one more gateway sending large events; its answers are
 *            counted apart)  --heavy-events 5 (events per such request)  --heavy-bytes 1000000
 *            (bytes of random text in each such event's data)
 *
 * A probe is recognised on the ticker by its amount (`7777.<n>`), the one field of a payment the
 * public ticker carries that the sender chooses freely.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { hashIngestKey } from "../src/identity/IngestKey.js"
import { claimsFor } from "../src/identity/Jwt.js"
import { signHs256 } from "../testkit/jwt.js"
import { envPairs, parseOptions } from "./lib/args.js"
import { Fleet, parseMix } from "../testkit/fleet.js"
import { freePort, startServer } from "../testkit/server.js"
import { fmt, summary } from "../testkit/stats.js"
import { subscribe, type SubscriberSpec } from "./sse/subscribers.js"
import { parseMetrics, quantileMs, valueOf } from "./lib/prometheus.js"
import { type CpuSample, sampleCpu } from "./lib/cpu.js"

const args = parseOptions({
  "admin-url": "postgres://postgres@127.0.0.1:5432/postgres",
  "probe-rate": 10,
  probes: 2,
  rate: 0,
  batch: 100,
  gateways: 50,
  agents: 1000,
  subscribers: 0,
  duration: 20,
  "wait-commit": false,
  split: false,
  profile: false,
  "heavy-rate": 0,
  "heavy-events": 5,
  "heavy-bytes": 1_000_000
}, ["env"])

const options = {
  adminUrl: args["admin-url"],
  probeRate: args["probe-rate"],
  probes: args.probes,
  rate: args.rate,
  batch: args.batch,
  gateways: args.gateways,
  agents: args.agents,
  subscribers: args.subscribers,
  duration: args.duration,
  waitCommit: args["wait-commit"],
  split: args.split,
  profile: args.profile,
  heavyRate: args["heavy-rate"],
  heavyEvents: args["heavy-events"],
  heavyBytes: args["heavy-bytes"],
  env: envPairs(args.env)
}

const SECRET = randomBytes(32).toString("base64url")
const newKey = () => `mpk_live_${randomBytes(32).toString("base64url")}`

const post = (agent: http.Agent, url: URL, key: string, body: Buffer, contentType: string, wait: boolean) =>
  new Promise<number>((resolve) => {
    const req = http.request({
      host: url.hostname,
      port: url.port,
      path: "/v1/ingest",
      method: "POST",
      agent,
      headers: {
        authorization: `Bearer ${key}`,
        "content-type": contentType,
        "content-length": body.byteLength,
        ...(wait ? { prefer: "wait=commit" } : {})
      }
    }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode ?? 0))
    })
    req.on("error", () => resolve(0))
    req.end(body)
  })

/** A ticker stream that calls `seen(n)` for each probe payment `7777.<n>` it delivers. */
const tickerProbe = (url: URL, seen: (n: number) => void) =>
  new Promise<http.ClientRequest>((resolve, reject) => {
    const req = http.get({ host: url.hostname, port: url.port, path: "/v1/telemetry/live?topics=ticker" }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`ticker stream answered ${res.statusCode}`))
      res.setEncoding("utf8")
      let buffer = ""
      res.on("data", (chunk: string) => {
        buffer += chunk
        for (const match of buffer.matchAll(/"amount":"7777\.(\d+)"/g)) seen(Number(match[1]))
        buffer = buffer.slice(Math.max(0, buffer.lastIndexOf("\n")))
      })
      resolve(req)
    })
    req.on("error", reject)
  })

const main = async () => {
  const admin = new pg.Client({ connectionString: options.adminUrl })
  await admin.connect()
  const dbName = `live_${Date.now().toString(36)}${randomBytes(2).toString("hex")}`
  await admin.query(`CREATE DATABASE ${dbName}`)
  const dbUrl = Object.assign(new URL(options.adminUrl), { pathname: `/${dbName}` }).toString()
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "machpay-live-"))
  const env = { DATABASE_URL: dbUrl, DATA_DIR: dataDir, JWT_SECRET: SECRET, SSE_MAX_STREAMS_PER_USER: "100000", ...options.env }
  const nodeArgs = options.profile ? ["--cpu-prof", "--cpu-prof-dir=tmp/profiles"] : []
  const server = await startServer(options.split ? { ...env, ROLES: "receiver" } : env, await freePort(), nodeArgs)
  const apiServer = options.split
    ? await startServer({ ...env, ROLES: "api", DATA_DIR: path.join(dataDir, "api") }, await freePort(), nodeArgs)
    : server
  const url = new URL(server.url)
  const apiUrl = new URL(apiServer.url)
  const db = new pg.Client({ connectionString: dbUrl })
  await db.connect()
  const gateways = Array.from({ length: options.gateways }, (_, i) => ({ id: `gw-${i}`, key: newKey() }))
  const probe = { id: "gw-probe", key: newKey() }
  const heavy = { id: "gw-heavy", key: newKey() }
  await db.query("INSERT INTO vendors (id, name) VALUES ('bench', 'Bench')")
  await db.query(
    `INSERT INTO gateways (id, vendor_id, name, ingest_key_hash)
     SELECT g->>'id', 'bench', g->>'id', g->>'hash' FROM jsonb_array_elements($1::jsonb) g`,
    [JSON.stringify([...gateways, probe, heavy].map((g) => ({ id: g.id, hash: hashIngestKey(g.key) })))]
  )
  await db.end()

  // Background streams (vendor / agent topics), then the probe tickers.
  const now = Date.now() / 1000
  const vendorToken = signHs256(claimsFor({ role: "vendor", vendorId: "bench" }, { now, ttlSeconds: 3600 }), SECRET)
  const specs: Array<SubscriberSpec> = Array.from({ length: options.subscribers }, (_, i) =>
    i % 10 < 7
      ? { topics: `vendor:${gateways[i % gateways.length]!.id}`, headers: { authorization: `Bearer ${vendorToken}` } }
      : {
        topics: `agent:agent-${i % options.agents}`,
        headers: {
          authorization: `Bearer ${signHs256(claimsFor({ role: "agent", agentId: `agent-${i % options.agents}` }, { now, ttlSeconds: 3600 }), SECRET)}`
        }
      })
  const pool = await subscribe(apiServer.url, specs)
  const scheduled = new Map<number, number>()
  const delivered: Array<number> = []
  const firstSeen = new Set<number>()
  const streams = await Promise.all(Array.from({ length: options.probes }, () =>
    tickerProbe(apiUrl, (n) => {
      const at = scheduled.get(n)
      if (at === undefined) return
      delivered.push(performance.now() - at)
      firstSeen.add(n)
    })))

  // Background load: pre-encoded batches, open loop.
  const fleet = new Fleet(gateways.map((g) => g.id), options.agents, parseMix("payment=60,blocked=10,solvency=5,intent=15,telemetry=5,unknown=5"), dbName)
  const backgroundBatches = Math.floor((options.rate * options.duration) / options.batch)
  const background = Array.from({ length: backgroundBatches }, (_, i) => {
    const gateway = gateways[i % gateways.length]!
    return { key: gateway.key, body: Buffer.from(JSON.stringify(fleet.batch(gateway.id, options.batch))) }
  })
  const probeCount = Math.floor(options.probeRate * options.duration)
  const probeBodies = Array.from({ length: probeCount }, (_, n) =>
    Buffer.from(JSON.stringify({
      specversion: "1.0",
      id: `probe-${n}`,
      source: `machpay://gateway/${probe.id}`,
      type: "PaymentAuthorized",
      time: new Date().toISOString(),
      data: {
        gateway_id: probe.id, payment_id: `pp-${n}`, request_id: `pr-${n}`, agent_id: "agent-probe", method: "GET",
        route: "/probe", amount: `7777.${n}`, asset: "USDC", network: "base"
      }
    })))
  // The heavy gateway: each request a batch of large events; the text is random, so it does not
  // compress away in PostgreSQL's TOAST. Built per send (unique ids) from one shared payload.
  const heavyPad = JSON.stringify(randomBytes(Math.ceil((options.heavyBytes * 3) / 4)).toString("base64").slice(0, options.heavyBytes))
  const heavyBody = (r: number) =>
    Buffer.from(`[${Array.from({ length: options.heavyEvents }, (_, e) =>
      `{"specversion":"1.0","id":"heavy-${r}-${e}","source":"machpay://gateway/${heavy.id}","type":"com.example.Blob","time":"${new Date().toISOString()}","data":{"blob":${heavyPad}}}`).join(",")}]`)
  const heavyCount = Math.floor(options.heavyRate * options.duration)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  const acks: Array<number> = []
  const statuses = new Map<number, number>()
  const heavyStatuses = new Map<number, number>()
  const cpuBefore = sampleCpu(server.child.pid)
  const start = performance.now()
  const sends: Array<Promise<void>> = []
  const schedule = (due: number, send: () => Promise<void>) =>
    new Promise<void>((resolve) => setTimeout(() => resolve(send()), Math.max(0, due - performance.now())))
  background.forEach((b, i) => {
    const due = start + (i * options.batch * 1000) / Math.max(1, options.rate)
    sends.push(schedule(due, async () => {
      const status = await post(agent, url, b.key, b.body, "application/cloudevents-batch+json", false)
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }))
  })
  for (let r = 0; r < heavyCount; r++) {
    sends.push(schedule(start + (r * 1000) / options.heavyRate, async () => {
      const status = await post(agent, url, heavy.key, heavyBody(r), "application/cloudevents-batch+json", false)
      heavyStatuses.set(status, (heavyStatuses.get(status) ?? 0) + 1)
    }))
  }
  probeBodies.forEach((body, n) => {
    const due = start + (n * 1000) / options.probeRate
    sends.push(schedule(due, async () => {
      scheduled.set(n, due)
      const status = await post(agent, url, probe.key, body, "application/cloudevents+json", options.waitCommit)
      acks.push(performance.now() - due)
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }))
  })
  await Promise.all(sends)
  const cpuAfter = sampleCpu(server.child.pid)
  await new Promise((r) => setTimeout(r, 2000))
  for (const s of streams) s.destroy()
  pool.close()
  agent.destroy()
  const stages = await Promise.all([server, apiServer].map((s) => fetch(`${s.url}/metrics`).then((r) => r.text()).then(parseMetrics)))
  const rss = server.rssMb() + (options.split ? apiServer.rssMb() : 0)
  if (options.split) await apiServer.stop()
  await server.stop()
  await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`)
  await admin.end()
  await fs.rm(dataDir, { recursive: true, force: true })

  const live = summary(delivered)
  const ack = summary(acks)
  console.log(`
== live latency (POST scheduled → ticker client) ==
layout         ${options.split ? "receiver + api processes" : "one process"}${options.env["REALTIME_BUS"] === "nats" ? ", REALTIME_BUS=nats" : ""}
load           probes ${options.probeRate}/s × ${options.duration}s${options.waitCommit ? " (wait=commit)" : ""}; background ${options.rate} events/s in batches of ${options.batch}; ${options.subscribers} background streams (${pool.connected()} connected, ${pool.retried()} openings retried after 503/429, ${pool.messages()} messages)
requests       ${[...statuses].map(([s, n]) => `${s}:${n}`).join(" ")}${heavyCount === 0 ? "" : `; heavy gateway (${options.heavyRate}/s × ${options.heavyEvents} events of ${options.heavyBytes} bytes) ${[...heavyStatuses].map(([s, n]) => `${s}:${n}`).join(" ")}`}
delivered      ${firstSeen.size}/${probeCount} probes on ${options.probes} ticker streams (${delivered.length} deliveries)
POST → SSE     p50 ${fmt(live.p50)} ms  p99 ${fmt(live.p99)} ms  max ${fmt(live.max)} ms
probe ack      p50 ${fmt(ack.p50)} ms  p99 ${fmt(ack.p99)} ms${options.waitCommit ? " (the commit, answered)" : ""}
stages         accept → commit p50 ${quantileMs(stages[0]!, "ingest_commit_lag_seconds", 0.5)} ms p99 ${
    quantileMs(stages[0]!, "ingest_commit_lag_seconds", 0.99)} ms; commit → socket write p50 ${
    quantileMs(stages[1]!, "realtime_commit_to_send_seconds", 0.5)} ms p99 ${quantileMs(stages[1]!, "realtime_commit_to_send_seconds", 0.99)} ms (server histograms)
gc             ${fmt(valueOf(stages[0]!, "nodejs_gc_pause_seconds_sum"), 2)} s of pauses in the server${options.split ? " taking the POSTs" : ""}
server         RSS ${fmt(rss, 0)} MB
cpu            ${cpuShares(cpuBefore, cpuAfter)}
flushes        ${flushSummary(stages[0]!)}
`)
  if (firstSeen.size < probeCount) process.exitCode = 1
}

/** Flushes per route and their mean size: group commit makes them small when the writer keeps up. */
const flushSummary = (samples: ReturnType<typeof parseMetrics>) => {
  const routes = new Set(samples.filter((s) => s.name === "ingest_batch_size_count").map((s) => s.labels.get("route") ?? ""))
  return [...routes].sort().map((route) => {
    const count = valueOf(samples, "ingest_batch_size_count", { route })
    const sum = valueOf(samples, "ingest_batch_size_sum", { route })
    return `${route} ${count} (mean ${fmt(sum / Math.max(1, count), 1)} events)`
  }).join(", ")
}

/** Who used the cores while the load ran: on 2 shared cores the subscribers' client is part of the picture. */
const cpuShares = (before: CpuSample, after: CpuSample) => {
  const seconds = (after.at - before.at) / 1000
  const cores = (a: number, b: number) => fmt((b - a) / seconds, 2)
  return `server ${cores(before.server, after.server)}${options.split ? " (the receiver)" : ""}, PostgreSQL ${
    cores(before.postgres, after.postgres)}, generator and subscribers ${cores(before.generator, after.generator)} cores (of ${os.cpus().length})`
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
