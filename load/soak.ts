/**
 * Soak: the real server process for hours with long-lived SSE streams going through the
 * heartbeat and token-expiry → reconnect cycle, under a steady ingest. Every `--sample` seconds
 * it prints the server's RSS, V8 heap, open file descriptors (`/proc/<pid>/fd`), event-loop delay
 * (from `/metrics`), streams open and delivery latency; at the end it fits a slope through the
 * second half of the samples and exits 1, saying why, when RSS, heap or descriptors keep growing,
 * when the expiry cycle or heartbeats did not happen, when streams were lost, or when an
 * acknowledged event is missing from the database.
 *
 *   npm run soak -- --duration 3600 --streams 300 --rate 500
 *
 * Options (defaults): --admin-url postgres://postgres@127.0.0.1:5432/postgres  --duration 3600 (s)
 *   --streams 300 (ticker 5 % anonymous, vendor 65 %, agent 30 %)  --rate 500 (events/s)  --batch 50
 *   --gateways 20  --agents 200  --token-ttl 120 (s, ±25 % per token)  --heartbeat 5 (s)  --sample 60 (s, one line)  --probe 10 (s)
 *   --max-rss-growth 40 (MB/h)  --max-heap-growth 20 (MB/h)  --max-fd-growth 20 (per hour)
 *   --json FILE (samples and verdict as JSON)  --env KEY=VALUE (server environment, repeatable)  --keep
 *
 * The server is probed every `--probe` seconds; each printed sample reports the floor (minimum)
 * of RSS, heap and descriptors over its probes — what a garbage collection or a closed
 * reconnect brings them back to, which a leak raises and a GC's timing does not — and the worst
 * event-loop delay. The growth verdict fits those floors.
 *
 * Light on the shared cores: event bodies are generated per request (a few per second), sent
 * open loop through a keep-alive `node:http` agent; the SSE client only scans for ids, events
 * and heartbeats.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { hashIngestKey } from "../src/identity/IngestKey.js"
import { envPairs, parseOptions } from "./lib/args.js"
import { Fleet, parseMix } from "../testkit/fleet.js"
import { bucketsOf, parseMetrics, valueOf } from "./lib/prometheus.js"
import { freePort, startServer } from "../testkit/server.js"
import { fmt, histogramQuantile, summary } from "../testkit/stats.js"
import { checkGrowth, type GrowthCheck, secondHalf } from "./soak/growth.js"
import { type CyclingSpec, startStreams } from "./soak/streams.js"

const args = parseOptions({
  "admin-url": "postgres://postgres@127.0.0.1:5432/postgres",
  duration: 3600,
  streams: 300,
  rate: 500,
  batch: 50,
  gateways: 20,
  agents: 200,
  "token-ttl": 120,
  heartbeat: 5,
  sample: 60,
  probe: 10,
  "max-rss-growth": 40,
  "max-heap-growth": 20,
  "max-fd-growth": 20,
  json: "",
  keep: false
}, ["env"])

const options = {
  adminUrl: args["admin-url"],
  duration: args.duration,
  streams: args.streams,
  rate: args.rate,
  batch: args.batch,
  gateways: args.gateways,
  agents: args.agents,
  tokenTtl: args["token-ttl"],
  heartbeat: args.heartbeat,
  sample: args.sample,
  probe: args.probe,
  maxRssGrowth: args["max-rss-growth"],
  maxHeapGrowth: args["max-heap-growth"],
  maxFdGrowth: args["max-fd-growth"],
  json: args.json,
  keep: args.keep,
  env: envPairs(args.env)
}

const SECRET = randomBytes(32).toString("base64url")

interface Sample {
  readonly t: number
  readonly rssMb: number
  readonly heapMb: number
  readonly fds: number
  readonly loopP99Ms: number
  readonly loopMaxMs: number
  readonly streamsOpen: number
  readonly serverClients: number
  readonly messagesPerSec: number
  readonly latencyP50Ms: number
  readonly latencyP99Ms: number
  readonly serverSendP99Ms: number
  readonly ingestPerSec: number
  readonly queueDepth: number
  readonly journalBytes: number
}

const admin = async <A>(f: (client: pg.Client) => Promise<A>) => {
  const client = new pg.Client({ connectionString: options.adminUrl })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

const streamSpecs = (gateways: ReadonlyArray<string>): Array<CyclingSpec> =>
  Array.from({ length: options.streams }, (_, i): CyclingSpec => {
    const slot = i % 20
    if (slot === 0) return { topics: "ticker", viaTicket: false }
    if (slot <= 13) {
      return {
        topics: `vendor:${gateways[i % gateways.length]}`,
        principal: { role: "vendor", vendorId: "soak", subject: `vendor-user-${i}` },
        viaTicket: i % 2 === 0
      }
    }
    const agentId = `agent-${i % options.agents}`
    return { topics: `agent:${agentId}`, principal: { role: "agent", agentId }, viaTicket: i % 2 === 0 }
  })

const fdCount = (pid: number): number => {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return Number.NaN
  }
}

/** `p`-quantile (ms) of the observations a histogram gained between two scrapes. */
const windowQuantileMs = (before: ReadonlyArray<readonly [number, number]>, after: ReadonlyArray<readonly [number, number]>, q: number) => {
  const previous = new Map(before)
  return histogramQuantile(after.map(([le, n]) => [le, n - (previous.get(le) ?? 0)] as const), q) * 1000
}

const main = async () => {
  const runId = `k${Date.now().toString(36)}${randomBytes(2).toString("hex")}`
  const dbName = `soak_${runId}`
  await admin((c) => c.query(`CREATE DATABASE ${dbName}`))
  const dbUrl = Object.assign(new URL(options.adminUrl), { pathname: `/${dbName}` }).toString()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "machpay-soak-"))
  const port = await freePort()
  console.log(`database ${dbName}, data ${dataDir}; starting server on ${port}…`)
  const server = await startServer({
    DATABASE_URL: dbUrl,
    DATA_DIR: dataDir,
    JWT_SECRET: SECRET,
    SSE_HEARTBEAT: `${options.heartbeat} seconds`,
    SSE_MAX_STREAMS_PER_USER: "100000",
    ...options.env
  }, port)
  let failures: Array<string> = []
  try {
    failures = await run(server, dbUrl, runId)
  } finally {
    await server.stop()
    if (!options.keep) await admin((c) => c.query(`DROP DATABASE ${dbName} WITH (FORCE)`))
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
  if (failures.length > 0) {
    console.error(`\nSOAK FAILED:\n${failures.map((f) => `  - ${f}`).join("\n")}`)
    process.exitCode = 1
  } else console.log("\nSOAK PASSED: no growth beyond the limits, every cycle exercised, nothing lost")
}

const run = async (server: Awaited<ReturnType<typeof startServer>>, dbUrl: string, runId: string): Promise<Array<string>> => {
  const pid = server.child.pid!
  const db = new pg.Pool({ connectionString: dbUrl, max: 2 })
  db.on("error", () => undefined)
  const gateways = Array.from({ length: options.gateways }, (_, i) => ({ id: `gw-${i}`, key: `mpk_live_${randomBytes(32).toString("base64url")}` }))
  await db.query("INSERT INTO vendors (id, name) VALUES ('soak', 'Soak vendor')")
  await db.query(
    `INSERT INTO gateways (id, vendor_id, name, ingest_key_hash)
     SELECT g->>'id', 'soak', g->>'id', g->>'hash' FROM jsonb_array_elements($1::jsonb) g`,
    [JSON.stringify(gateways.map((g) => ({ id: g.id, hash: hashIngestKey(g.key) })))]
  )

  const specs = streamSpecs(gateways.map((g) => g.id))
  const streams = startStreams(specs, {
    baseUrl: server.url,
    secret: SECRET,
    tokenTtlSeconds: options.tokenTtl,
    stallMs: Math.max(3 * options.heartbeat * 1000, 10_000) + 2000
  })

  // Ingest, open loop: one batch every `interval` ms from a schedule, whatever the answers do.
  const fleet = new Fleet(gateways.map((g) => g.id), options.agents, parseMix("payment=60,blocked=10,solvency=5,intent=15,telemetry=5,unknown=5"), runId)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
  const target = new URL(server.url)
  let acceptedEvents = 0
  let failedRequests = 0
  let requests = 0
  let inflight = 0
  const statuses = new Map<number, number>()
  const post = (gateway: (typeof gateways)[number]) => {
    const body = Buffer.from(JSON.stringify(fleet.batch(gateway.id, options.batch)))
    inflight += 1
    requests += 1
    const req = http.request({
      host: target.hostname, port: target.port, path: "/v1/ingest", method: "POST", agent,
      headers: { authorization: `Bearer ${gateway.key}`, "content-type": "application/cloudevents-batch+json", "content-length": body.byteLength }
    }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (c: string) => (text += c))
      res.on("end", () => {
        inflight -= 1
        statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1)
        if (res.statusCode !== 202) return void (failedRequests += 1)
        const reply = JSON.parse(text) as { results: Array<{ status: string }> }
        for (const r of reply.results) if (r.status === "accepted") acceptedEvents += 1
      })
    })
    req.on("error", () => {
      inflight -= 1
      failedRequests += 1
      statuses.set(0, (statuses.get(0) ?? 0) + 1)
    })
    req.end(body)
  }
  const interval = (options.batch * 1000) / options.rate
  const start = performance.now()
  const end = start + options.duration * 1000
  let sent = 0
  let ingesting = true
  const tick = () => {
    if (!ingesting) return
    const now = performance.now()
    while (start + sent * interval <= now && now < end) post(gateways[sent++ % gateways.length]!)
    if (now >= end) return void (ingesting = false)
    setTimeout(tick, Math.max(1, start + sent * interval - performance.now()))
  }
  tick()

  const samples: Array<Sample> = []
  let lastBuckets: ReadonlyArray<readonly [number, number]> = []
  let lastMessages = 0
  let lastAccepted = 0
  let lastT = 0
  console.log(
    `${options.streams} streams (${specs.filter((s) => s.principal === undefined).length} anonymous ticker, ` +
      `${specs.filter((s) => s.viaTicket).length} via tickets), ${options.rate} events/s in batches of ${options.batch}, ` +
      `token ttl ${options.tokenTtl}s ±25 %, heartbeat ${options.heartbeat}s, ${options.duration}s, sample every ${options.sample}s`
  )
  console.log(
    "    t  rss MB heap MB  fds  loop p99/max ms  open srv  msg/s  live p50/p99 ms  send p99 ms  ingest/s queue journal MB  cycles  hb  resets unexp stalls"
  )
  interface Probe { readonly rssMb: number; readonly heapMb: number; readonly fds: number; readonly loopP99Ms: number; readonly loopMaxMs: number }
  let probes: Array<Probe> = []
  const probe = async () => {
    const metrics = parseMetrics(await fetch(`${server.url}/metrics`).then((r) => r.text(), () => ""))
    probes.push({
      rssMb: server.rssMb(),
      heapMb: valueOf(metrics, "nodejs_heap_used_bytes") / 2 ** 20,
      fds: fdCount(pid),
      loopP99Ms: valueOf(metrics, "process_event_loop_delay_p99_seconds") * 1000,
      loopMaxMs: valueOf(metrics, "process_event_loop_delay_max_seconds") * 1000
    })
    return metrics
  }
  const takeSample = async () => {
    const metrics = await probe()
    const t = (performance.now() - start) / 1000
    const window = probes
    probes = []
    const floor = (f: (p: Probe) => number) => Math.min(...window.map(f).filter(Number.isFinite))
    const worst = (f: (p: Probe) => number) => Math.max(...window.map(f).filter(Number.isFinite))
    const buckets = bucketsOf(metrics, "realtime_commit_to_send_seconds")
    const latency = summary(streams.takeLatencies())
    const dt = Math.max(1e-9, t - lastT)
    const sample: Sample = {
      t,
      rssMb: floor((p) => p.rssMb),
      heapMb: floor((p) => p.heapMb),
      fds: floor((p) => p.fds),
      loopP99Ms: worst((p) => p.loopP99Ms),
      loopMaxMs: worst((p) => p.loopMaxMs),
      streamsOpen: streams.open(),
      serverClients: metrics.filter((s) => s.name === "realtime_clients").reduce((n, s) => n + s.value, 0),
      messagesPerSec: (streams.counters.messages - lastMessages) / dt,
      latencyP50Ms: latency.p50,
      latencyP99Ms: latency.p99,
      serverSendP99Ms: windowQuantileMs(lastBuckets, buckets, 0.99),
      ingestPerSec: (acceptedEvents - lastAccepted) / dt,
      queueDepth: metrics.filter((s) => s.name === "ingest_queue_depth").reduce((n, s) => n + s.value, 0),
      journalBytes: valueOf(metrics, "journal_bytes") / 2 ** 20
    }
    lastBuckets = buckets
    lastMessages = streams.counters.messages
    lastAccepted = acceptedEvents
    lastT = t
    samples.push(sample)
    const c = streams.counters
    console.log(
      `${fmt(t, 0).padStart(5)} ${fmt(sample.rssMb, 0).padStart(7)} ${fmt(sample.heapMb, 0).padStart(7)} ${String(sample.fds).padStart(4)} ` +
        `${`${fmt(sample.loopP99Ms, 1)}/${fmt(sample.loopMaxMs, 0)}`.padStart(16)} ${String(sample.streamsOpen).padStart(4)} ` +
        `${String(sample.serverClients).padStart(3)} ${fmt(sample.messagesPerSec, 0).padStart(6)} ` +
        `${`${fmt(sample.latencyP50Ms, 0)}/${fmt(sample.latencyP99Ms, 0)}`.padStart(16)} ${fmt(sample.serverSendP99Ms, 1).padStart(12)} ` +
        `${fmt(sample.ingestPerSec, 0).padStart(9)} ${String(sample.queueDepth).padStart(5)} ${fmt(sample.journalBytes, 1).padStart(10)} ` +
        `${String(c.expiryCycles).padStart(7)} ${String(c.heartbeats).padStart(6)} ${String(c.resets).padStart(4)} ${String(c.unexpectedEnds).padStart(5)} ${String(c.stalls).padStart(6)}`
    )
  }
  const probesPerSample = Math.max(1, Math.round(options.sample / options.probe))
  await new Promise<void>((resolve) => {
    let n = 0
    let busy = false
    const timer = setInterval(() => {
      if (server.child.exitCode !== null) {
        clearInterval(timer)
        return resolve()
      }
      if (busy) return
      busy = true
      const last = performance.now() >= end
      const step = ++n % probesPerSample === 0 || last ? takeSample() : probe().then(() => undefined)
      void step.finally(() => {
        busy = false
        if (last) {
          clearInterval(timer)
          resolve()
        }
      })
    }, options.probe * 1000)
  })
  ingesting = false

  const failures: Array<string> = []
  if (server.child.exitCode !== null) failures.push(`the server exited (code ${server.child.exitCode}):\n${server.log().slice(-2000)}`)

  // Let the last batches commit, then check nothing acknowledged is missing.
  const settleDeadline = performance.now() + 30_000
  while (inflight > 0 && performance.now() < settleDeadline) await new Promise((r) => setTimeout(r, 200))
  let stored = 0
  for (;;) {
    stored = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM telemetry_events").catch(() => ({ rows: [{ n: -1 }] }))).rows[0]!.n
    if (stored >= acceptedEvents || performance.now() > settleDeadline) break
    await new Promise((r) => setTimeout(r, 1000))
  }
  const openAtEnd = streams.open()
  streams.close()
  await db.end()

  const half = secondHalf(samples)
  const checks: Array<GrowthCheck> = [
    checkGrowth("RSS", "MB", half.map((s) => ({ t: s.t, value: s.rssMb })), options.maxRssGrowth),
    checkGrowth("V8 heap used", "MB", half.map((s) => ({ t: s.t, value: s.heapMb })), options.maxHeapGrowth),
    checkGrowth("open file descriptors", "", half.map((s) => ({ t: s.t, value: s.fds })), options.maxFdGrowth)
  ]
  const c = streams.counters
  const all = (f: (s: Sample) => number) => summary(samples.map(f))
  const loop = all((s) => s.loopP99Ms)
  const live = all((s) => s.latencyP99Ms)
  const cycling = specs.filter((s) => s.principal !== undefined).length
  console.log(`
== soak ==
run              ${fmt(samples[samples.length - 1]?.t ?? 0, 0)} s, ${options.streams} streams, ${options.rate} events/s (batches of ${options.batch}, ${options.gateways} gateways)
ingest           ${requests} requests, ${acceptedEvents} events accepted, ${failedRequests} failed (${[...statuses].map(([k, n]) => `${k}: ${n}`).join(", ")}); stored ${stored}
streams          ${c.connects} connections, ${c.expiryCycles} token-expiry → reconnect cycles (${fmt(c.expiryCycles / Math.max(1, cycling), 1)} per expiring stream), ${c.ticketsRedeemed} via tickets; open at end ${openAtEnd}/${options.streams}
delivery         ${c.messages} messages, ${c.heartbeats} heartbeats, ${c.resets} resets, ${c.unexpectedEnds} unexpected ends, ${c.stalls} stalls, refused: ${[...c.refused].map(([k, n]) => `${k}: ${n}`).join(", ") || "none"}
event loop p99   per sample: median ${fmt(loop.p50, 1)} ms, worst ${fmt(loop.max, 1)} ms; max delay seen ${fmt(Math.max(...samples.map((s) => s.loopMaxMs)), 0)} ms
live latency p99 per sample: median ${fmt(live.p50, 0)} ms, worst ${fmt(live.max, 0)} ms
growth (2nd half, least squares)
${checks.map((k) => `  ${k.name.padEnd(22)} ${fmt(k.first, 0)} → ${fmt(k.last, 0)} ${k.unit}, slope ${fmt(k.slopePerHour, 1)} ${k.unit}/h (limit ${k.limitPerHour}) ${k.ok ? "ok" : "GROWING"}`).join("\n")}`)

  for (const k of checks) {
    if (!k.ok && !Number.isFinite(k.slopePerHour)) failures.push(`${k.name}: too few samples in the second half to judge growth (run longer or sample more often)`)
    else if (!k.ok) failures.push(`${k.name} grows ${fmt(k.slopePerHour, 1)} ${k.unit}/h over the second half (limit ${k.limitPerHour}${k.unit === "" ? "" : ` ${k.unit}`}/h)`)
  }
  if (c.expiryCycles < cycling) failures.push(`only ${c.expiryCycles} token-expiry cycles for ${cycling} expiring streams: the expiry → reconnect path was not exercised`)
  if (c.heartbeats === 0) failures.push("no heartbeat was received")
  if (c.stalls > 0) failures.push(`${c.stalls} streams went silent for longer than three heartbeats`)
  if (c.unexpectedEnds > Math.max(5, c.connects * 0.001)) failures.push(`${c.unexpectedEnds} streams ended without token expiry (of ${c.connects} connections)`)
  if (openAtEnd < options.streams * 0.95) failures.push(`only ${openAtEnd}/${options.streams} streams open at the end`)
  if (failedRequests > Math.max(1, requests * 0.001)) failures.push(`${failedRequests} of ${requests} ingest requests failed`)
  if (stored !== acceptedEvents) failures.push(`stored ${stored} events, ${acceptedEvents} were accepted`)
  if (c.messages === 0) failures.push("no event was delivered to any stream")

  if (options.json !== "") {
    fs.writeFileSync(options.json, JSON.stringify({ options, samples, checks, counters: { ...c, refused: Object.fromEntries(c.refused) }, failures }, null, 2))
  }
  return failures
}

main().catch((error: unknown) => {
  console.error("SOAK FAILED:", error)
  process.exit(1)
})
