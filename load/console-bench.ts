/**
 * Console API benchmark: calls every endpoint over HTTP with realistic parameters and prints
 * p50 / p99 / max latency per endpoint. Run it on a database filled by `load/seed.ts`.
 *
 *   npx tsx load/console-bench.ts --database-url postgres://postgres@127.0.0.1:5432/console_bench
 *
 * With `--base-url` it measures a server that is already running (its JWT_SECRET must be
 * `--secret`); otherwise it starts one (ROLES=api, so no background job competes) on
 * `--port`. Parameters come from the database: the largest vendor (vendor-0000, ≈ 7% of all
 * payments), random vendors, the most active agent and random agents.
 *
 * Options (defaults): --requests 200 (per endpoint and vendor class)  --warmup 20 (at --concurrency)
 *   --concurrency 4  --port 18091  --secret bench-console-secret-bench-console-secret
 *   --base-url (none)  --database-url $DATABASE_URL  --only <substring of endpoint names>
 */
import pg from "pg"
import { claimsFor, type PrincipalSpec } from "../src/identity/Jwt.js"
import { signHs256 } from "../testkit/jwt.js"
import { parseOptions } from "./lib/args.js"
import { type Call, type Fixtures, scenarios } from "./console/scenarios.js"
import { startServer } from "../testkit/server.js"
import { fmt, summary } from "../testkit/stats.js"

const args = parseOptions({
  requests: 200,
  warmup: 20,
  concurrency: 4,
  port: 18091,
  secret: "bench-console-secret-bench-console-secret",
  "base-url": "",
  "database-url": process.env["DATABASE_URL"] ?? "",
  only: ""
})
const databaseUrl = String(args["database-url"])
if (databaseUrl === "") throw new Error("--database-url (or DATABASE_URL) is required (parameters are read from it)")
const secret = String(args.secret)

const loadFixtures = async (): Promise<Fixtures> => {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const one = async <A>(text: string): Promise<ReadonlyArray<A>> => (await client.query(text)).rows
    // The seeded fleet is "live": refresh last_seen_at as ingest would (same pattern as load/seed.ts).
    await client.query(`UPDATE gateways SET last_seen_at = CASE
        WHEN substr(id, 4)::int % 33 = 5 THEN now() - interval '6 hours'
        WHEN substr(id, 4)::int % 20 = 3 THEN now() - interval '5 minutes'
        ELSE now() - random() * interval '50 seconds' END
      WHERE id ~ '^gw-[0-9]+$'`)
    const vendors = await one<{ vendor_id: string; gateway_id: string }>(
      `SELECT vendor_id, min(id) AS gateway_id FROM gateways GROUP BY vendor_id ORDER BY vendor_id`
    )
    const agents = await one<{ id: string }>(`SELECT id FROM agents ORDER BY id LIMIT 2000`)
    const endpoints = await one<{ vendor_id: string; id: string }>(`SELECT vendor_id, min(id)::text AS id FROM endpoints GROUP BY vendor_id`)
    const largest = await one<{ vendor_id: string; n: string }>(
      `SELECT g.vendor_id, count(*) AS n FROM payment_authorized p JOIN gateways g ON g.id = p.gateway_id
        WHERE g.vendor_id = (SELECT min(vendor_id) FROM gateways) GROUP BY 1`
    )
    const total = await one<{ n: string }>(`SELECT reltuples::bigint AS n FROM pg_class WHERE relname = 'payment_authorized'`)
    process.stderr.write(`fixtures: ${vendors.length} vendors, largest ${largest[0]?.vendor_id} with ${largest[0]?.n} of ~${total[0]?.n} payments\n`)
    return {
      vendors: vendors.map((v) => ({
        vendorId: v.vendor_id,
        gatewayId: v.gateway_id,
        endpointId: endpoints.find((e) => e.vendor_id === v.vendor_id)?.id ?? "1"
      })),
      agents: agents.map((a) => a.id)
    }
  } finally {
    await client.end()
  }
}

const tokenCache = new Map<string, string>()
const tokenFor = (spec: PrincipalSpec): string => {
  const key = JSON.stringify(spec)
  let token = tokenCache.get(key)
  if (token === undefined) {
    token = signHs256(claimsFor(spec, { now: Date.now() / 1000, ttlSeconds: 3600 }), secret)
    tokenCache.set(key, token)
  }
  return token
}

const execute = async (baseUrl: string, call: Call): Promise<{ readonly ms: number; readonly status: number; readonly body: unknown }> => {
  const started = performance.now()
  const response = await fetch(`${baseUrl}${call.path}`, {
    method: call.method ?? "GET",
    headers: {
      authorization: `Bearer ${tokenFor(call.principal)}`,
      ...(call.body === undefined ? {} : { "content-type": "application/json" })
    },
    ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) })
  })
  const text = await response.text()
  const ms = performance.now() - started
  return { ms, status: response.status, body: text.length > 0 ? JSON.parse(text) : undefined }
}

const main = async () => {
  const fixtures = await loadFixtures()
  const server = args["base-url"] === ""
    ? await startServer({ DATABASE_URL: databaseUrl, JWT_SECRET: secret, ROLES: "api" }, Number(args.port))
    : undefined
  const baseUrl = server?.url ?? String(args["base-url"])
  try {
    // The first stats call per vendor, timed apart (cold caches). Requests never build rollups:
    // the seed (like the rollup job) has built every finished day.
    const warmStart = performance.now()
    const cold: Array<number> = []
    for (const v of fixtures.vendors) {
      const sample = await execute(baseUrl, { principal: { role: "vendor", vendorId: v.vendorId }, path: "/v1/vendor/stats" })
      cold.push(sample.ms)
    }
    // What autovacuum does shortly after a fill: statistics and the visibility map (index-only scans).
    const maintenance = new pg.Client({ connectionString: databaseUrl })
    await maintenance.connect()
    for (const table of ["console_rollup_days", "console_agent_daily", "console_revenue_hourly", "console_consumer_windows", "console_consumer_totals", "gateway_stats_hourly"]) {
      await maintenance.query(`VACUUM (ANALYZE) ${table}`)
    }
    await maintenance.end()
    const c = summary(cold)
    process.stdout.write(`first calls: ${fixtures.vendors.length} vendors in ${((performance.now() - warmStart) / 1000).toFixed(1)} s (first stats call p50 ${fmt(c.p50)} ms, max ${fmt(c.max)} ms; largest vendor ${fmt(cold[0] ?? 0)} ms)\n`)
    const rows: Array<string> = []
    const header = `${"endpoint".padEnd(44)} ${"n".padStart(5)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"max ms".padStart(8)}  errors`
    process.stdout.write(`${header}\n`)
    for (const scenario of scenarios(fixtures)) {
      if (String(args.only) !== "" && !scenario.name.includes(String(args.only))) continue
      const latencies: Array<number> = []
      const errors = new Map<number, number>()
      /** `count` runs of the scenario over `--concurrency` clients; `record` keeps their samples. */
      const load = async (count: number, record: boolean) => {
        let next = 0
        const worker = async () => {
          while (next < count) {
            const i = next++
            const samples = await scenario.run((call) => execute(baseUrl, call), i)
            if (!record) continue
            for (const s of samples) {
              latencies.push(s.ms)
              if (s.status >= 400) errors.set(s.status, (errors.get(s.status) ?? 0) + 1)
            }
          }
        }
        await Promise.all(Array.from({ length: Number(args.concurrency) }, worker))
      }
      // The warm-up runs at the measured concurrency, so every pooled connection the measured
      // run uses has planned these statements once (a new backend's first plans are cold).
      await load(Number(args.warmup), false)
      await load(Number(args.requests), true)
      const s = summary(latencies)
      const errorText = [...errors].map(([status, n]) => `${n}×${status}`).join(" ")
      const row = `${scenario.name.padEnd(44)} ${String(latencies.length).padStart(5)} ${fmt(s.p50).padStart(8)} ${fmt(s.p99).padStart(8)} ${fmt(s.max).padStart(8)}  ${errorText}`
      rows.push(row)
      process.stdout.write(`${row}\n`)
    }
  } finally {
    await server?.stop()
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`console-bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exit(1)
})
