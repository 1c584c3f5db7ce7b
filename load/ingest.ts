/**
 * Ingest benchmark: a fleet of gateways posting batches to the real server process, then a
 * zero-loss check and the raw COPY ceiling of the same rows.
 *
 *   npm run load -- --rate 10000 --duration 60 --batch 500 --gateways 50     (open loop)
 *   npm run load -- --closed 4 --duration 30 --batch 500                       (capacity)
 *
 * The generator must not compete with the server for the two cores: every request body is
 * encoded before the clock starts, requests go out through a plain keep-alive `node:http` agent,
 * and in open loop each batch has a scheduled send time — latency is measured from that time, so
 * a server that falls behind cannot hide it by slowing the generator (no coordinated omission).
 * `--closed N` instead keeps N requests in flight back to back, for capacity.
 *
 * Options (defaults): --admin-url postgres://postgres@127.0.0.1:5432/postgres  --gateways 50
 *   --agents 10000  --batch 500  --rate 12000 (events/s)  --duration 60 (s)  --concurrency 64 (open loop: sockets)  --closed N (closed loop with N connections)
 *   --mix payment=60,blocked=10,solvency=5,intent=15,telemetry=5,unknown=5  --duplicates 0.01
 *   --port (default: a free one)  --wait-commit (ask for Prefer: wait=commit)  --keep (keep the database)
 *   --modes journal,memory,commit (durability modes to run in turn, printed side by side)
 *   --env KEY=VALUE (extra server environment, repeatable)  --node-arg=--flag (extra node option for the server, repeatable)  --profile (CPU profile of the server → tmp/profiles)
 *   --warmup 10 (s: requests scheduled in the first seconds — JIT, pool and heap growing — are
 *   reported apart; "steady" percentiles are over the rest)
 */
import { Effect } from "effect"
import * as http from "node:http"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { hashIngestKey } from "../src/identity/IngestKey.js"
import { envPairs, parseOptions } from "./lib/args.js"
import { type CpuSample, sampleCpu } from "./lib/cpu.js"
import { copyCeiling, verifyStored } from "./lib/verify.js"
import { Fleet, parseMix } from "../testkit/fleet.js"
import { freePort, startServer } from "../testkit/server.js"
import { bucketsOf, parseMetrics, quantileMs, valueOf } from "./lib/prometheus.js"
import { fmt, histogramQuantile, summary } from "../testkit/stats.js"

const args = parseOptions({
  "admin-url": "postgres://postgres@127.0.0.1:5432/postgres",
  gateways: 50,
  agents: 10000,
  batch: 500,
  rate: 12000,
  duration: 60,
  concurrency: 64,
  closed: 0,
  mix: "payment=60,blocked=10,solvency=5,intent=15,telemetry=5,unknown=5",
  duplicates: 0.01,
  port: 0,
  modes: "",
  "wait-commit": false,
  keep: false,
  profile: false,
  warmup: 10
}, ["env", "node-arg"])

const options = {
  adminUrl: args["admin-url"],
  gateways: args.gateways,
  agents: args.agents,
  batch: args.batch,
  rate: args.rate,
  duration: args.duration,
  concurrency: args.concurrency,
  closed: args.closed,
  mix: parseMix(args.mix),
  duplicates: args.duplicates,
  port: args.port,
  waitCommit: args["wait-commit"],
  keep: args.keep,
  profile: args.profile,
  warmup: args.warmup,
  env: envPairs(args.env),
  nodeArgs: args["node-arg"]
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

const idSum = (ids: Iterable<string>) => {
  let sum = 0n
  for (const id of ids) sum += BigInt(`0x${createHash("md5").update(id).digest("hex").slice(0, 12)}`)
  return sum
}

/** POST /v1/ingest as the server timed it (from its handler's start to the response). */
const serverAck = (m: ReturnType<typeof parseMetrics>): string => {
  const labels = { method: "POST", route: "/v1/ingest", status: "202" }
  return `p50 ${quantileMs(m, "http_request_duration_seconds", 0.5, labels)} ms p99 ${quantileMs(m, "http_request_duration_seconds", 0.99, labels)} ms`
}

const gcSummary = (m: ReturnType<typeof parseMetrics>): string => {
  const buckets = bucketsOf(m, "nodejs_gc_pause_seconds")
  const slowest = buckets.find((b) => b[1] === buckets[buckets.length - 1]?.[1])
  return `${valueOf(m, "nodejs_gc_pause_seconds_count")}, ${fmt(valueOf(m, "nodejs_gc_pause_seconds_sum"), 2)} s in all, ` +
    `p99 ${quantileMs(m, "nodejs_gc_pause_seconds", 0.99)} ms, slowest ≤ ${slowest === undefined ? "n/a" : `${fmt(slowest[0] * 1000, 0)} ms`}`
}

/** Per route: flushes, mean batch size, flush duration p50/p99 (server histograms). */
const flushSummary = (m: ReturnType<typeof parseMetrics>): string =>
  [...new Set(m.filter((s) => s.name === "ingest_flush_duration_seconds_count").map((s) => s.labels.get("route") ?? ""))]
    .map((route) => {
      const count = valueOf(m, "ingest_batch_size_count", { route })
      return `${route} ${count}× avg ${fmt(valueOf(m, "ingest_batch_size_sum", { route }) / count, 0)} ev p50 ${
        quantileMs(m, "ingest_flush_duration_seconds", 0.5, { route })} ms p99 ${quantileMs(m, "ingest_flush_duration_seconds", 0.99, { route })} ms`
    })
    .join("; ")

type Mode = "journal" | "memory" | "commit"

interface RunResult {
  readonly mode: Mode
  readonly committedRate: number
  readonly ackP50: number
  readonly ackP99: number
  readonly steadyP99: number
  readonly commitLagP99: number
  readonly maxRss: number
  readonly zeroLoss: boolean
}

/**
 * What PostgreSQL did besides our statements, server-wide: checkpoints (a run with one in it writes
 * full pages to the WAL again and is slower: the main source of run-to-run spread here), buffers
 * the backends had to write themselves, and WAL volume.
 */
interface PostgresActivity {
  readonly timed: number
  readonly requested: number
  readonly backendBuffers: number
  readonly walLsn: string
}

const postgresActivity = async (db: pg.Pool): Promise<PostgresActivity> => {
  const { rows } = await db.query<{ timed: string; requested: string; backend: string; lsn: string }>(
    `SELECT checkpoints_timed AS timed, checkpoints_req AS requested, buffers_backend AS backend,
            pg_current_wal_lsn()::text AS lsn FROM pg_stat_bgwriter`
  )
  const row = rows[0]!
  return { timed: Number(row.timed), requested: Number(row.requested), backendBuffers: Number(row.backend), walLsn: row.lsn }
}

const lsnBytes = (lsn: string): bigint => {
  const [high, low] = lsn.split("/")
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`)
}

const activityBetween = (before: PostgresActivity, after: PostgresActivity): string => {
  const checkpoints = after.timed - before.timed + after.requested - before.requested
  const walMb = Number(lsnBytes(after.walLsn) - lsnBytes(before.walLsn)) / 1024 / 1024
  return `checkpoints ${checkpoints} (${after.requested - before.requested} requested), buffers written by backends ${
    after.backendBuffers - before.backendBuffers}, WAL ${fmt(walMb, 0)} MB`
}

/** One full run against a fresh server and database; `mode` picks the durability. */
const runOnce = (mode: Mode) => Effect.gen(function*() {
  const waitCommit = options.waitCommit || mode === "commit"
  const runId = `r${Date.now().toString(36)}${randomBytes(2).toString("hex")}`
  const dbName = `bench_${runId}`
  yield* Effect.promise(() => admin((c) => c.query(`CREATE DATABASE ${dbName}`)))
  const dbUrl = Object.assign(new URL(options.adminUrl), { pathname: `/${dbName}` }).toString()
  console.log(`database ${dbName}; starting server…`)
  const port = options.port === 0 ? yield* Effect.promise(freePort) : options.port
  // Its own data directory: a journal left by an earlier run must not replay into this database.
  const dataDir = yield* Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "machpay-bench-")))
  const server = yield* Effect.promise(() => startServer(
    {
      DATABASE_URL: dbUrl,
      DATA_DIR: dataDir,
      DB_POOL_MAX: "12",
      INGEST_DURABILITY: mode === "memory" ? "memory" : "journal",
      ...options.env
    },
    port,
    [...(options.profile ? ["--cpu-prof", "--cpu-prof-dir=tmp/profiles"] : []), ...options.nodeArgs]
  ))
  const db = new pg.Pool({ connectionString: dbUrl, max: 4 })
  db.on("error", () => undefined) // idle clients are terminated when the database is dropped
  const gateways = Array.from({ length: options.gateways }, (_, i) => ({ id: `gw-${i}`, key: `mpk_live_${randomBytes(32).toString("base64url")}` }))
  yield* Effect.promise(async () => {
    await db.query("INSERT INTO vendors (id, name) VALUES ('bench', 'Bench vendor')")
    await db.query(
      `INSERT INTO gateways (id, vendor_id, name, ingest_key_hash)
       SELECT g->>'id', 'bench', g->>'id', g->>'hash' FROM jsonb_array_elements($1::jsonb) g`,
      [JSON.stringify(gateways.map((g) => ({ id: g.id, hash: hashIngestKey(g.key) })))]
    )
  })
  const fleet = new Fleet(gateways.map((g) => g.id), options.agents, options.mix, runId)
  // Sets: a re-sent batch may be answered "accepted" a second time while its original is still
  // queued; the database keeps one row, and so does this tally.
  const accepted = new Map<string, Set<string>>()
  const latencies: Array<number> = []
  /** Latencies of requests scheduled after the warm-up (see `--warmup`). */
  const steady: Array<number> = []
  let steadyFrom = Number.POSITIVE_INFINITY
  let window: Array<number> = []
  let sentEvents = 0, ackedEvents = 0, duplicatesExpected = 0, duplicatesSeen = 0, failures = 0, inflight = 0, sentBatches = 0
  const statuses = new Map<number, number>()
  let maxRss = 0

  // Every body encoded before the clock starts (open loop: the whole run; closed loop: a pool).
  interface Job { readonly gateway: number; readonly count: number; readonly body: Buffer; readonly retry: boolean }
  const batchesTotal = options.closed > 0
    ? Math.max(1, Math.ceil((40_000 * options.duration) / options.batch))
    : Math.floor((options.rate * options.duration) / options.batch)
  const jobs: Array<Job> = []
  for (let i = 0; i < batchesTotal; i++) {
    if (jobs.length > 0 && Math.random() < options.duplicates) {
      jobs.push({ ...jobs[Math.max(0, jobs.length - 1 - Math.floor(Math.random() * 20))]!, retry: true })
      continue
    }
    const gateway = i % gateways.length
    const events = fleet.batch(gateways[gateway]!.id, options.batch)
    jobs.push({ gateway, count: events.length, body: Buffer.from(JSON.stringify(events)), retry: false })
  }
  const headersOf = gateways.map((g) => ({
    authorization: `Bearer ${g.key}`,
    "content-type": "application/cloudevents-batch+json",
    ...(waitCommit ? { prefer: "wait=commit" } : {})
  }))
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.closed > 0 ? options.closed : options.concurrency })
  const target = new URL(server.url)

  /** One POST; resolves with the status and body text (status 0: no answer). */
  const post = (job: Job) =>
    new Promise<{ status: number; text: string }>((resolve) => {
      const req = http.request({
        host: target.hostname,
        port: target.port,
        path: "/v1/ingest",
        method: "POST",
        agent,
        headers: { ...headersOf[job.gateway], "content-length": job.body.byteLength }
      }, (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }))
        res.on("error", () => resolve({ status: 0, text: "" }))
      })
      req.on("error", () => resolve({ status: 0, text: "" }))
      req.end(job.body)
    })

  /** Sends one job; latency counts from `from` (its scheduled time in open loop). */
  const send = async (job: Job, from: number) => {
    inflight += 1
    sentBatches += 1
    if (!job.retry) sentEvents += job.count
    const reply = await post(job)
    const ms = performance.now() - from
    inflight -= 1
    latencies.push(ms)
    if (from >= steadyFrom) steady.push(ms)
    window.push(ms)
    statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1)
    if (reply.status !== 200 && reply.status !== 202) {
      failures += 1
      return
    }
    ackedEvents += job.count
    // Outcomes are read after the clock, off the send path: a cheap scan of the JSON.
    const body = JSON.parse(reply.text) as { results: Array<{ status: string; type?: string; id?: string }> }
    for (const outcome of body.results) {
      if (outcome.status === "accepted" && outcome.type !== undefined && outcome.id !== undefined) {
        const ids = accepted.get(outcome.type) ?? new Set<string>()
        ids.add(outcome.id)
        accepted.set(outcome.type, ids)
      }
      if (outcome.status === "duplicate") duplicatesSeen += 1
    }
    if (job.retry) duplicatesExpected += job.count
  }

  const pgBefore = yield* Effect.promise(() => postgresActivity(db))
  const cpuBefore = sampleCpu(server.child.pid)
  const start = performance.now()
  steadyFrom = start + options.warmup * 1000
  let behind = 0
  let ticks = 0
  const loop = { p99: 0, max: 0 }
  const progress = setInterval(() => {
    if (++ticks % 5 === 0) {
      fetch(`${server.url}/metrics`).then((r) => r.text()).then((text) => {
        const samples = parseMetrics(text)
        loop.p99 = Math.max(loop.p99, valueOf(samples, "process_event_loop_delay_p99_seconds"))
        loop.max = Math.max(loop.max, valueOf(samples, "process_event_loop_delay_max_seconds"))
      }, () => undefined)
    }
    const rss = server.rssMb()
    maxRss = Math.max(maxRss, rss)
    const s = summary(window)
    window = []
    const elapsed = (performance.now() - start) / 1000
    process.stdout.write(
      `\r t=${fmt(elapsed, 0)}s sent=${sentEvents} acked=${ackedEvents} (${fmt(ackedEvents / elapsed, 0)}/s) ` +
        `ack p50=${fmt(s.p50)}ms p99=${fmt(s.p99)}ms inflight=${inflight} behind=${behind} rss=${fmt(rss, 0)}MB fails=${failures}   `
    )
  }, 1000)

  yield* Effect.promise(async () => {
    if (options.closed > 0) {
      // Closed loop: N senders back to back until the duration is up (or the pool runs out).
      let next = 0
      const deadline = start + options.duration * 1000
      await Promise.all(Array.from({ length: options.closed }, async () => {
        while (performance.now() < deadline && next < jobs.length) {
          const job = jobs[next++]!
          await send(job, performance.now())
        }
      }))
      return
    }
    // Open loop: each batch leaves at its scheduled time whatever the answers do.
    const pending: Array<Promise<void>> = []
    const interval = (options.batch * 1000) / options.rate
    for (let i = 0; i < jobs.length; i++) {
      const due = start + i * interval
      const wait = due - performance.now()
      if (wait > 1) await new Promise((r) => setTimeout(r, wait))
      else if (wait < -100) behind += 1
      pending.push(send(jobs[i]!, due))
    }
    await Promise.all(pending)
  })
  agent.destroy()
  const sendSeconds = (performance.now() - start) / 1000
  clearInterval(progress)
  process.stdout.write("\n")

  const totalAccepted = [...accepted.values()].reduce((n, ids) => n + ids.size, 0)
  const committedAt = yield* Effect.promise(async () => {
    const deadline = Date.now() + 300_000
    for (;;) {
      const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM telemetry_events")
      if ((rows[0]?.n ?? 0) >= totalAccepted || Date.now() > deadline) return performance.now()
      await new Promise((r) => setTimeout(r, 100))
    }
  })
  // Then until the server's queue is empty, so the check below sees everything it will store.
  yield* Effect.promise(async () => {
    const deadline = Date.now() + 120_000
    while (Date.now() < deadline) {
      const text = await fetch(`${server.url}/metrics`).then((r) => r.text())
      if (/^ingest_queue_depth\{[^}]*\} 0$/m.test(text)) return
      await new Promise((r) => setTimeout(r, 200))
    }
  })
  const commitSeconds = (committedAt - start) / 1000
  const cpuAfter = sampleCpu(server.child.pid)
  const pgDuring = activityBetween(pgBefore, yield* Effect.promise(() => postgresActivity(db)))
  const metrics = parseMetrics(yield* Effect.promise(() => fetch(`${server.url}/metrics`).then((r) => r.text())))
  const buckets = bucketsOf(metrics, "ingest_commit_lag_seconds")
  const flushes = flushSummary(metrics)
  const verification = yield* Effect.promise(() => verifyStored(db, accepted, idSum))
  const ceiling = yield* Effect.promise(() => copyCeiling(db, totalAccepted))
  maxRss = Math.max(maxRss, server.rssMb())
  const exitCode = yield* Effect.promise(() => server.stop())
  yield* Effect.promise(() => db.end())
  if (!options.keep) yield* Effect.promise(() => admin((c) => c.query(`DROP DATABASE ${dbName} WITH (FORCE)`)))
  yield* Effect.promise(() => fs.rm(dataDir, { recursive: true, force: true }))

  const ack = summary(latencies)
  const ackSteady = summary(steady)
  const committedRate = totalAccepted / commitSeconds
  console.log(`
== ingest benchmark ==
options        mode=${mode} ${options.closed > 0 ? `closed loop ×${options.closed}` : `open loop rate=${options.rate}/s`} duration=${options.duration}s batch=${options.batch} gateways=${options.gateways} concurrency=${options.concurrency} wait-commit=${waitCommit}
requests       ${sentBatches} (${[...statuses].map(([s, n]) => `${s}:${n}`).join(" ")}), sent in ${fmt(sendSeconds)}s, behind schedule ${behind}
events         sent ${sentEvents}, accepted ${totalAccepted}, duplicates reported ${duplicatesSeen} (re-sent ${duplicatesExpected})
committed      ${fmt(committedRate, 0)} events/s (all accepted events committed after ${fmt(commitSeconds)}s)
ack latency    p50 ${fmt(ack.p50)} ms  p99 ${fmt(ack.p99)} ms  max ${fmt(ack.max)} ms (client, ${options.closed > 0 ? "from send" : "from each batch's scheduled time"}, whole run); server-side ${serverAck(metrics)}
ack, steady    p50 ${fmt(ackSteady.p50)} ms  p99 ${fmt(ackSteady.p99)} ms  max ${fmt(ackSteady.max)} ms (${steady.length} requests scheduled after the first ${options.warmup} s)
commit lag     p99 ${fmt(histogramQuantile(buckets, 0.99) * 1000)} ms (server histogram)
flushes        ${flushes}
journal        append p50 ${quantileMs(metrics, "journal_append_duration_seconds", 0.5)} ms p99 ${
  quantileMs(metrics, "journal_append_duration_seconds", 0.99)} ms; fsync p50 ${
  quantileMs(metrics, "journal_fsync_duration_seconds", 0.5)} ms p99 ${quantileMs(metrics, "journal_fsync_duration_seconds", 0.99)} ms
server loop    event-loop delay: worst 5 s p99 ${fmt(loop.p99 * 1000)} ms, max ${fmt(loop.max * 1000)} ms; GC pauses ${gcSummary(metrics)}
server memory  max RSS ${fmt(maxRss, 0)} MB; exit code ${exitCode}
postgres       ${pgDuring} (whole server, from the first send to the last commit)
cpu            ${cpuSummary(cpuBefore, cpuAfter, totalAccepted, ceiling)}
zero loss      ${verification.ok ? "OK" : "FAILED"} — ${verification.lines.join("; ")}
COPY ceiling   ${fmt(ceiling.eventsPerSecond, 0)} events/s (${ceiling.rows} rows in ${fmt(ceiling.seconds, 2)}s); ours = ${fmt((100 * committedRate) / ceiling.eventsPerSecond)}% of it
`)
  if (!verification.ok) process.exitCode = 1
  const result: RunResult = {
    mode,
    committedRate,
    ackP50: ack.p50,
    ackP99: ack.p99,
    steadyP99: ackSteady.p99,
    commitLagP99: histogramQuantile(buckets, 0.99) * 1000,
    maxRss,
    zeroLoss: verification.ok
  }
  return result
})

/**
 * What one event cost in CPU (receiver, PostgreSQL) from the first send to the last commit, and
 * the most this machine's cores could commit at that cost — the bound on "% of the COPY ceiling"
 * whatever the scheduling, since the receiver and PostgreSQL share the cores.
 */
const cpuSummary = (
  before: CpuSample,
  after: CpuSample,
  events: number,
  ceiling: { readonly eventsPerSecond: number; readonly postgresMicrosPerEvent: number }
) => {
  const seconds = (after.at - before.at) / 1000
  const micros = (cpu: number) => (1e6 * cpu) / events
  const server = micros(after.server - before.server)
  const postgres = micros(after.postgres - before.postgres)
  const cores = os.cpus().length
  const bound = (cores * 1e6) / (server + postgres)
  return `receiver ${fmt(server, 1)} µs/event (${fmt((after.server - before.server) / seconds, 2)} cores), PostgreSQL ${
    fmt(postgres, 1)} µs/event (${fmt((after.postgres - before.postgres) / seconds, 2)} cores), generator ${
    fmt((after.generator - before.generator) / seconds, 2)} cores; COPY: PostgreSQL ${fmt(ceiling.postgresMicrosPerEvent, 1)} µs/event. At this cost ${cores} cores commit at most ${
    fmt(bound, 0)} events/s = ${fmt((100 * bound) / ceiling.eventsPerSecond)}% of the COPY ceiling`
}

/** `--modes journal,memory,commit` runs each durability mode in turn and compares them. */
const main = Effect.gen(function*() {
  const modes = (args.modes === "" ? (options.waitCommit ? "commit" : "journal") : args.modes).split(",") as Array<Mode>
  const results: Array<RunResult> = []
  for (const mode of modes) results.push(yield* runOnce(mode))
  if (results.length > 1) {
    console.log("== durability modes side by side ==")
    console.log("mode      committed ev/s   ack p50 ms   ack p99 ms   steady p99 ms   commit lag p99 ms   max RSS MB   zero loss")
    for (const r of results) {
      console.log(
        `${r.mode.padEnd(9)} ${fmt(r.committedRate, 0).padStart(15)} ${fmt(r.ackP50).padStart(12)} ${fmt(r.ackP99).padStart(12)} ${fmt(r.steadyP99).padStart(15)} ` +
          `${fmt(r.commitLagP99).padStart(19)} ${fmt(r.maxRss, 0).padStart(12)}   ${r.zeroLoss ? "OK" : "FAILED"}`
      )
    }
  }
})

main.pipe(Effect.runPromise).catch((error) => {
  console.error(error)
  process.exit(1)
})
