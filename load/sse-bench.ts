/**
 * Live stream benchmark: N SSE subscribers (mixed topics) on the real server process while a
 * fleet of gateways ingests at a fixed rate. Prints commit → client latency (from each message
 * id's commit time to its arrival at the client), the server's own commit → send histogram,
 * messages delivered, slow-consumer drops and the server's RSS.
 *
 *   npx tsx load/sse-bench.ts --subscribers 1000 --rate 5000 --duration 20
 *
 * Options (defaults): --admin-url postgres://postgres@127.0.0.1:5432/postgres  --subscribers 1000
 *   --topics ticker=10,vendor=700,agent=290 (subscriber mix)  --rate 5000 (events/s)  --duration 20 (s)
 *   --gateways 100  --agents 1000  --batch 100 (events per ingest request)  --port 18190
 *   --env KEY=VALUE (extra server environment, repeatable)  --keep (keep the database)
 *   --profile (CPU profile of the server → tmp/profiles)
 *   --split (two processes: ROLES=receiver,worker takes the ingest, ROLES=api serves the streams;
 *            events cross through LISTEN/NOTIFY)
 *
 * The subscribers run in this process; both it and the server share the machine's cores, so the
 * client's own lag is part of the latency it reports (the server histogram excludes it).
 */
import { randomBytes } from "node:crypto"
import pg from "pg"
import { hashIngestKey } from "../src/identity/IngestKey.js"
import { claimsFor, type PrincipalSpec } from "../src/identity/Jwt.js"
import { signHs256 } from "../testkit/jwt.js"
import { Fleet, parseMix } from "../testkit/fleet.js"
import { fmt, histogramQuantile, summary } from "../testkit/stats.js"
import { envPairs, parseOptions } from "./lib/args.js"
import { bucketsOf, parseMetrics } from "./lib/prometheus.js"
import { type RunningServer as BenchServer, startServer as startBenchServer } from "../testkit/server.js"
import { type SubscriberSpec, subscribe } from "./sse/subscribers.js"

const args = parseOptions({
  "admin-url": "postgres://postgres@127.0.0.1:5432/postgres",
  subscribers: 1000,
  topics: "ticker=10,vendor=700,agent=290",
  rate: 5000,
  duration: 20,
  gateways: 100,
  agents: 1000,
  batch: 100,
  port: 18190,
  keep: false,
  profile: false,
  split: false
}, ["env"])

const options = {
  adminUrl: args["admin-url"],
  subscribers: args.subscribers,
  topics: args.topics,
  rate: args.rate,
  duration: args.duration,
  gateways: args.gateways,
  agents: args.agents,
  batch: args.batch,
  port: args.port,
  keep: args.keep,
  profile: args.profile,
  split: args.split,
  env: envPairs(args.env)
}

const SECRET = randomBytes(32).toString("base64url")
const WARMUP_SECONDS = 2

const token = (spec: PrincipalSpec) => signHs256(claimsFor(spec, { now: Date.now() / 1000, ttlSeconds: 3600 }), SECRET)

const admin = async <A>(f: (client: pg.Client) => Promise<A>) => {
  const client = new pg.Client({ connectionString: options.adminUrl })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

/** Subscriber specs in the requested proportions; topic targets spread round-robin. */
const subscriberSpecs = (gateways: ReadonlyArray<string>): Array<SubscriberSpec> => {
  const weights = options.topics.split(",").map((part) => {
    const [kind, weight] = part.split("=")
    if (kind !== "ticker" && kind !== "vendor" && kind !== "agent") throw new Error(`bad --topics entry "${part}"`)
    return [kind, Number(weight)] as const
  })
  const total = weights.reduce((n, [, w]) => n + w, 0)
  const specs: Array<SubscriberSpec> = []
  const vendorToken = token({ role: "vendor", vendorId: "bench" })
  for (const [kind, weight] of weights) {
    const count = Math.round((options.subscribers * weight) / total)
    for (let i = 0; i < count; i++) {
      if (kind === "ticker") specs.push({ topics: "ticker", headers: {} })
      else if (kind === "vendor") {
        specs.push({ topics: `vendor:${gateways[i % gateways.length]}`, headers: { authorization: `Bearer ${vendorToken}` } })
      } else {
        const agentId = `agent-${i % options.agents}`
        specs.push({ topics: `agent:${agentId}`, headers: { authorization: `Bearer ${token({ role: "agent", agentId })}` } })
      }
    }
  }
  return specs
}

const metric = (text: string, name: string): number =>
  [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)`, "gm"))].reduce((n, m) => n + Number(m[1]), 0)

const main = async () => {
  const runId = `s${Date.now().toString(36)}${randomBytes(2).toString("hex")}`
  const dbName = `ssebench_${runId}`
  await admin((c) => c.query(`CREATE DATABASE ${dbName}`))
  const dbUrl = Object.assign(new URL(options.adminUrl), { pathname: `/${dbName}` }).toString()
  console.log(`database ${dbName}; starting server…`)
  const servers: Array<BenchServer> = []
  const env = { DATABASE_URL: dbUrl, JWT_SECRET: SECRET, SSE_MAX_STREAMS_PER_USER: "100000", ...options.env }
  const nodeArgs = options.profile ? ["--cpu-prof", "--cpu-prof-dir=tmp/profiles"] : []
  try {
    const api = await startBenchServer(options.split ? { ...env, ROLES: "api" } : env, options.port, nodeArgs)
    servers.push(api)
    const receiver = options.split
      ? await startBenchServer({ ...env, ROLES: "receiver,worker" }, options.port + 1, nodeArgs)
      : api
    if (receiver !== api) servers.push(receiver)
    await run(api, receiver, dbUrl, runId)
  } finally {
    for (const server of servers) await server.stop()
    if (!options.keep) await admin((c) => c.query(`DROP DATABASE ${dbName} WITH (FORCE)`))
  }
}

const run = async (server: BenchServer, receiver: BenchServer, dbUrl: string, runId: string) => {
  const db = new pg.Pool({ connectionString: dbUrl, max: 2 })
  const gateways = Array.from({ length: options.gateways }, (_, i) => ({ id: `gw-${i}`, key: `mpk_live_${randomBytes(32).toString("base64url")}` }))
  await db.query("INSERT INTO vendors (id, name) VALUES ('bench', 'Bench vendor')")
  await db.query(
    `INSERT INTO gateways (id, vendor_id, name, ingest_key_hash)
     SELECT g->>'id', 'bench', g->>'id', g->>'hash' FROM jsonb_array_elements($1::jsonb) g`,
    [JSON.stringify(gateways.map((g) => ({ id: g.id, hash: hashIngestKey(g.key) })))]
  )
  const rssIdle = server.rssMb()

  const specs = subscriberSpecs(gateways.map((g) => g.id))
  const connectStarted = performance.now()
  const pool = await subscribe(server.url, specs)
  const connectSeconds = (performance.now() - connectStarted) / 1000
  await new Promise((r) => setTimeout(r, 1000))
  const rssConnected = server.rssMb()
  console.log(`${pool.connected()} subscribers connected in ${fmt(connectSeconds, 2)}s; RSS ${fmt(rssIdle, 0)} → ${fmt(rssConnected, 0)} MB`)

  const fleet = new Fleet(gateways.map((g) => g.id), options.agents, parseMix("payment=60,blocked=10,solvency=5,intent=15,telemetry=5,unknown=5"), runId)
  let sent = 0
  let failed = 0
  const statuses = new Map<string, number>()
  let inflight = 0
  let maxRss = rssConnected
  let latencies: Array<number> = []
  const start = performance.now()
  const progress = setInterval(() => {
    const elapsed = (performance.now() - start) / 1000
    const window = pool.takeLatencies()
    if (elapsed > WARMUP_SECONDS) latencies = latencies.concat(window)
    const rss = server.rssMb()
    maxRss = Math.max(maxRss, rss)
    const s = summary(window)
    console.log(
      ` t=${fmt(elapsed, 0)}s sent=${sent} (${fmt(sent / elapsed, 0)}/s) inflight=${inflight} delivered=${pool.messages()} ` +
        `latency p50=${fmt(s.p50, 0)}ms p99=${fmt(s.p99, 0)}ms connected=${pool.connected()} rss=${fmt(rss, 0)}MB`
    )
  }, 1000)

  const requests = Math.floor((options.rate * options.duration) / options.batch)
  const posts: Array<Promise<void>> = []
  for (let i = 0; i < requests; i++) {
    const due = start + (i * options.batch * 1000) / options.rate
    const wait = due - performance.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    const gateway = gateways[i % gateways.length]!
    const events = fleet.batch(gateway.id, options.batch)
    inflight += 1
    posts.push(
      fetch(`${receiver.url}/v1/ingest`, {
        method: "POST",
        headers: { authorization: `Bearer ${gateway.key}`, "content-type": "application/cloudevents-batch+json" },
        body: JSON.stringify(events)
      }).then(
        async (response) => {
          await response.arrayBuffer()
          if (response.status === 202) sent += events.length
          else failed += 1
          statuses.set(String(response.status), (statuses.get(String(response.status)) ?? 0) + 1)
        },
        (error: unknown) => {
          failed += 1
          const key = error instanceof Error ? error.message : "error"
          statuses.set(key, (statuses.get(key) ?? 0) + 1)
        }
      ).finally(() => void (inflight -= 1))
    )
  }
  await Promise.all(posts)
  const ingestSeconds = (performance.now() - start) / 1000
  await new Promise((r) => setTimeout(r, 2500)) // the last batch window, then delivery
  clearInterval(progress)
  latencies = latencies.concat(pool.takeLatencies())
  maxRss = Math.max(maxRss, server.rssMb())

  const metrics = await fetch(`${server.url}/metrics`).then((r) => r.text(), () => "")
  const buckets = bucketsOf(parseMetrics(metrics), "realtime_commit_to_send_seconds")
  const delivered = pool.messages()
  const connectedAtEnd = pool.connected()
  pool.close()
  const receiverRss = receiver === server ? undefined : receiver.rssMb()
  const exitCode = await server.stop()
  await db.end()

  const client = summary(latencies)
  console.log(`
== SSE benchmark ==
options          subscribers=${specs.length} (${options.topics}) rate=${options.rate}/s duration=${options.duration}s batch=${options.batch} gateways=${options.gateways} agents=${options.agents} ${options.split ? "split: receiver + api processes" : "one process (all roles)"}
ingest           ${sent} events accepted in ${fmt(ingestSeconds, 1)}s (${fmt(sent / ingestSeconds, 0)}/s), ${failed} failed requests (${[...statuses].map(([k, n]) => `${k}: ${n}`).join(", ")})
delivered        ${delivered} messages (${fmt(delivered / options.duration, 0)}/s); subscribers connected at end ${connectedAtEnd}/${specs.length}, dropped ${pool.dropped()}, openings retried ${pool.retried()}, resets ${pool.resets()}
commit → client  p50 ${fmt(client.p50, 0)} ms  p99 ${fmt(client.p99, 0)} ms  max ${fmt(client.max, 0)} ms  (${latencies.length} samples after ${WARMUP_SECONDS}s warm-up; includes client lag)
commit → send    p50 ${fmt(histogramQuantile(buckets, 0.5) * 1000, 1)} ms  p99 ${fmt(histogramQuantile(buckets, 0.99) * 1000, 1)} ms  (server histogram)
slow consumers   ${metric(metrics, "realtime_slow_consumer_drops_total")} dropped by the server
server memory    RSS idle ${fmt(rssIdle, 0)} MB, ${specs.length} connected ${fmt(rssConnected, 0)} MB, max ${fmt(maxRss, 0)} MB; exit code ${exitCode}${
    receiverRss === undefined ? "" : `\nreceiver memory  RSS at end ${fmt(receiverRss, 0)} MB`
  }
`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
