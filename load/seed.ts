/**
 * Fills a database with realistic console data, fast: every row is made by the server
 * (`INSERT … SELECT` over `generate_series`), in time-ordered chunks so the heap looks like
 * what ingest writes (rows of all gateways interleaved by time), with progress on stderr.
 *
 *   npx tsx load/seed.ts --payments 10000000 --gateways 1000 --agents 100000 --days 30 \
 *     --database-url postgres://postgres@127.0.0.1:5432/console_bench
 *
 * Options (defaults): --payments 1000000  --gateways 1000  --agents 100000  --days 30
 *   --telemetry-hours 24 (60 s packets for the last N hours; older hours exist as rollups)
 *   --chunk-hours 6  --database-url $DATABASE_URL
 *
 * The data: vendors own 4 gateways each; gateway volume is skewed (weight ∝ rank^-0.6, so
 * vendor-0000 is the largest, ≈ 7% of all payments). 95% of a gateway's payments come from
 * its own ~300 regular agents (skewed), 5% from the whole population (skewed). Per payment ≈ 0.05 blocked requests, 0.005 solvency alerts, 0.1 intents.
 * Hourly rollups cover every closed hour (payment columns exact, traffic synthesized); the
 * current hour is only in the packets. 5% of gateways are stale and 3% silent. The console
 * rollups of finished days are built as the rollup job builds them, and the job itself then
 * builds the per-vendor consumers windows (migration 0033).
 *
 * The seeded tables are TRUNCATEd first: point it at a scratch database only.
 */
import { spawnSync } from "node:child_process"
import pg from "pg"
import { parseOptions } from "./lib/args.js"

const args = parseOptions({
  payments: 1_000_000,
  gateways: 1000,
  agents: 100_000,
  days: 30,
  "telemetry-hours": 24,
  "chunk-hours": 6,
  "database-url": process.env["DATABASE_URL"] ?? ""
})
const url = String(args["database-url"])
if (url === "") throw new Error("--database-url (or DATABASE_URL) is required")
const N = Number(args.payments)
const G = Number(args.gateways)
const A = Number(args.agents)
const DAYS = Number(args.days)
const TELEMETRY_HOURS = Number(args["telemetry-hours"])
const CHUNK_HOURS = Number(args["chunk-hours"])

const started = Date.now()
const log = (message: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`)

const migrate = () => {
  log("migrating (src/main.ts migrate)")
  const result = spawnSync("npx", ["tsx", "src/main.ts", "migrate"], {
    env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: "Warning" },
    stdio: ["ignore", "ignore", "inherit"]
  })
  if (result.status !== 0) throw new Error("migration failed")
}

/** The rollup job itself (`jobs run rollup`): with every hour and day above already rolled up, it builds the consumers windows. */
const rollupJob = () => {
  log("consumers windows: the rollup job (src/main.ts cli jobs run rollup)")
  const result = spawnSync("npx", ["tsx", "src/main.ts", "cli", "jobs", "run", "rollup"], {
    env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: "Warning" },
    stdio: ["ignore", "inherit", "inherit"]
  })
  if (result.status !== 0) throw new Error("rollup job failed")
}

const client = new pg.Client({ connectionString: url })

const q = async (text: string, values: ReadonlyArray<unknown> = []) => (await client.query(text, [...values])).rowCount ?? 0

/** Runs `make(chunkStart, chunkEnd)` for each time chunk of the seeded span, oldest first. */
const byChunk = async (label: string, make: (from: string, to: string, chunk: number) => Promise<number>) => {
  const end = Date.now()
  const start = end - DAYS * 86_400_000
  const step = CHUNK_HOURS * 3_600_000
  const chunks = Math.ceil((end - start) / step)
  let total = 0
  const t0 = Date.now()
  for (let chunk = 0; chunk < chunks; chunk++) {
    const at = start + chunk * step
    total += await make(new Date(at).toISOString(), new Date(Math.min(at + step, end)).toISOString(), chunk)
    // Progress about every 10%.
    if ((chunk + 1) % Math.max(1, Math.round(chunks / 10)) === 0 || chunk === chunks - 1) {
      const rate = total / Math.max(0.001, (Date.now() - t0) / 1000)
      log(`${label}: ${total.toLocaleString("en")} rows (${Math.round(((chunk + 1) / chunks) * 100)}%, ${Math.round(rate).toLocaleString("en")}/s)`)
    }
  }
  return total
}

const rebuildDropped = async () => {
  const { rows } = await client.query<{ name: string; def: string }>(`SELECT name, def FROM seed_dropped_indexes ORDER BY name`)
  if (rows.length > 0) log(`rebuilding ${rows.length} indexes`)
  for (const index of rows) {
    const t0 = Date.now()
    await q(index.def.replace(/^CREATE (UNIQUE )?INDEX /, "CREATE $1INDEX IF NOT EXISTS "))
    await q(`DELETE FROM seed_dropped_indexes WHERE name = $1`, [index.name])
    log(`  ${index.name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`)
  }
}

const SEEDED = [
  "payment_authorized", "request_blocked", "solvency_alerts", "payment_intents", "payment_intent_transitions",
  "gateway_telemetry", "gateway_stats_hourly", "rollup_dirty", "endpoints", "gateway_config_history", "gateways",
  "agents", "vendors", "console_rollup_days", "console_agent_daily", "console_revenue_hourly",
  "console_consumer_windows", "console_consumer_totals"
]

const main = async () => {
  migrate()
  await client.connect()
  await q("SET synchronous_commit = off")
  await q("SET work_mem = '64MB'")
  log(`truncating ${SEEDED.join(", ")}`)
  await q(`TRUNCATE ${SEEDED.join(", ")} RESTART IDENTITY`)
  await q(`SELECT ensure_daily_partitions('gateway_telemetry', (now() AT TIME ZONE 'UTC')::date - $1::int, (now() AT TIME ZONE 'UTC')::date + 7)`,
    [Math.ceil(TELEMETRY_HOURS / 24) + 1])

  // --- entities ---------------------------------------------------------------------------
  await q(`DROP TABLE IF EXISTS seed_gw`)
  await q(`CREATE UNLOGGED TABLE seed_gw AS
    SELECT i AS idx, 'gw-' || lpad(i::text, 5, '0') AS id, 'vendor-' || lpad((i / 4)::text, 4, '0') AS vendor_id,
           CASE WHEN i % 20 = 7 THEN 'EURC' ELSE 'USDC' END AS asset,
           power(i + 1, -0.6) AS w
      FROM generate_series(0, $1::int - 1) i`, [G])
  await q(`ALTER TABLE seed_gw ADD COLUMN per_hour float8`)
  await q(`UPDATE seed_gw SET per_hour = $1::float8 * w / (SELECT sum(w) FROM seed_gw) / ($2::int * 24)`, [N, DAYS])
  await q(`INSERT INTO vendors (id, name) SELECT DISTINCT vendor_id, 'Vendor ' || vendor_id FROM seed_gw`)
  await q(`INSERT INTO gateways (id, vendor_id, name, ingest_key_hash, ingest_key_prefix, version, config, config_revision,
                                 config_updated_at, last_seen_at, created_at)
    SELECT id, vendor_id, 'Gateway ' || id, md5(id) || md5(id || '#'), left(md5(id), 8), 'v1.' || (idx % 5) || '.0',
           jsonb_build_object('relayer_url', 'https://relay.example/' || id, 'asset', asset, 'max_price', '0.05'),
           'rev-' || (idx % 3), now() - interval '3 days',
           CASE WHEN idx % 33 = 5 THEN now() - interval '6 hours'           -- silent
                WHEN idx % 20 = 3 THEN now() - interval '5 minutes'         -- stale
                ELSE now() - random() * interval '50 seconds' END,
           now() - interval '90 days'
      FROM seed_gw`)
  await q(`INSERT INTO agents (id, name, wallet_address)
    SELECT 'agent-' || lpad(i::text, 6, '0'), 'Agent ' || i, '0x' || md5(i::text) FROM generate_series(0, $1::int - 1) i`, [A])
  await q(`INSERT INTO endpoints (vendor_id, gateway_id, method, path, price, asset, description)
    SELECT g.vendor_id, g.id, CASE WHEN r % 2 = 0 THEN 'GET' ELSE 'POST' END, '/v1/api-' || r || '/' || g.idx,
           (r + 1) * 0.001 * (1 + g.idx % 7), g.asset, 'Route ' || r
      FROM seed_gw g CROSS JOIN generate_series(0, 4) r`)
  log(`entities: ${G} gateways, ${Math.ceil(G / 4)} vendors, ${A} agents`)

  // --- payments and the events around them ------------------------------------------------
  // Secondary indexes are dropped during the load and rebuilt from their saved definitions
  // (kept in a table, so a run that dies half-way is repaired by the next one).
  await q(`CREATE TABLE IF NOT EXISTS seed_dropped_indexes (name text PRIMARY KEY, def text NOT NULL)`)
  await rebuildDropped()
  await q(`INSERT INTO seed_dropped_indexes (name, def)
    SELECT indexname, indexdef FROM pg_indexes
     WHERE tablename IN ('payment_authorized', 'request_blocked', 'solvency_alerts', 'payment_intents')
       AND indexname NOT LIKE '%_pkey'`)
  const { rows: dropped } = await client.query<{ name: string }>(`SELECT name FROM seed_dropped_indexes`)
  for (const index of dropped) await q(`DROP INDEX IF EXISTS ${index.name}`)

  const agentExpr = `'agent-' || lpad((CASE WHEN random() < 0.05 THEN floor($3::int * power(random(), 2))
      ELSE (g.idx * 211 + floor(300 * power(random(), 2))::int) % $3::int END)::int::text, 6, '0')`
  const payments = await byChunk("payments", (from, to, chunk) =>
    q(`INSERT INTO payment_authorized (event_time, received_at, source, event_id, gateway_id, agent_id, payment_id,
                                       request_id, method, route, amount, asset, network, payer, pay_to, scheme)
       SELECT t, t + interval '120 milliseconds', 'seed', 'p' || $4::int || '-' || g.idx || '-' || s, g.id, ${agentExpr},
              'pay-' || $4::int || '-' || g.idx || '-' || s, 'req-' || $4::int || '-' || g.idx || '-' || s,
              CASE WHEN r % 2 = 0 THEN 'GET' ELSE 'POST' END, '/v1/api-' || r || '/' || g.idx,
              (r + 1) * 0.001 * (1 + g.idx % 7), g.asset, 'base', '0xpayer', '0xpayto', 'exact'
         FROM seed_gw g
         CROSS JOIN LATERAL generate_series(1, floor(g.per_hour * extract(epoch FROM $2::timestamptz - $1::timestamptz) / 3600
                                                    + random())::int) s
         CROSS JOIN LATERAL (SELECT $1::timestamptz + random() * ($2::timestamptz - $1::timestamptz) AS t,
                                    floor(random() * 5)::int AS r) x
        ORDER BY t`, [from, to, A, chunk]))
  const blocked = await byChunk("request_blocked", (from, to, chunk) =>
    q(`INSERT INTO request_blocked (event_time, received_at, source, event_id, gateway_id, agent_id, request_id, method,
                                    route, reason, severity, detail, client_ip)
       SELECT t, t + interval '80 milliseconds', 'seed', 'b' || $4::int || '-' || g.idx || '-' || s, g.id,
              CASE WHEN random() < 0.2 THEN NULL ELSE ${agentExpr} END, 'breq-' || $4::int || '-' || g.idx || '-' || s,
              'GET', '/v1/api-' || (s % 5) || '/' || g.idx,
              (ARRAY['insufficient_funds', 'invalid_payment', 'invalid_signature', 'rate_limited', 'policy_denied'])[1 + s % 5],
              (ARRAY['low', 'medium', 'medium', 'high', 'critical'])[1 + (s * 7) % 5], 'seeded', '10.0.0.' || (s % 250)
         FROM seed_gw g
         CROSS JOIN LATERAL generate_series(1, floor(0.05 * g.per_hour * extract(epoch FROM $2::timestamptz - $1::timestamptz) / 3600
                                                    + random())::int) s
         CROSS JOIN LATERAL (SELECT $1::timestamptz + random() * ($2::timestamptz - $1::timestamptz) AS t) x
        ORDER BY t`, [from, to, A, chunk]))
  const alerts = await byChunk("solvency_alerts", (from, to, chunk) =>
    q(`INSERT INTO solvency_alerts (event_time, received_at, source, event_id, gateway_id, agent_id, kind, severity, asset,
                                    network, balance, threshold, required, message)
       SELECT t, t + interval '80 milliseconds', 'seed', 'a' || $4::int || '-' || g.idx || '-' || s, g.id, ${agentExpr},
              (ARRAY['low_balance', 'insufficient_balance', 'allowance_exhausted'])[1 + s % 3],
              CASE WHEN s % 4 = 0 THEN 'critical' ELSE 'warning' END, g.asset, 'base', round((random() * 2)::numeric, 6), 2,
              CASE WHEN s % 3 = 1 THEN 0.01 END, 'seeded'
         FROM seed_gw g
         CROSS JOIN LATERAL generate_series(1, floor(0.005 * g.per_hour * extract(epoch FROM $2::timestamptz - $1::timestamptz) / 3600
                                                    + random())::int) s
         CROSS JOIN LATERAL (SELECT $1::timestamptz + random() * ($2::timestamptz - $1::timestamptz) AS t) x
        ORDER BY t`, [from, to, A, chunk]))
  const intents = await byChunk("payment_intents", (from, to, chunk) =>
    q(`INSERT INTO payment_intents (intent_id, gateway_id, agent_id, status, status_rank, amount, asset, network, method,
                                    route, tx_hash, failure_reason, created_at, updated_at, last_event_time, received_at)
       SELECT 'i' || $4::int || '-' || g.idx || '-' || s, g.id, ${agentExpr}, st.status, st.rank, 0.01 * (1 + s % 9), g.asset,
              'base', 'POST', '/v1/api-0/' || g.idx, CASE WHEN st.status = 'settled' THEN '0x' || md5(s::text) END,
              CASE WHEN st.status = 'failed' THEN 'insufficient balance' END, t, u, u, u
         FROM seed_gw g
         CROSS JOIN LATERAL generate_series(1, floor(0.1 * g.per_hour * extract(epoch FROM $2::timestamptz - $1::timestamptz) / 3600
                                                    + random())::int) s
         CROSS JOIN LATERAL (SELECT $1::timestamptz + random() * ($2::timestamptz - $1::timestamptz) AS t) x
         CROSS JOIN LATERAL (SELECT least(x.t + random() * interval '10 minutes', now()) AS u) y
         CROSS JOIN LATERAL (SELECT (ARRAY['settled', 'settled', 'settled', 'failed', 'expired', 'pending', 'submitted'])[1 + s % 7] AS status) z
         CROSS JOIN LATERAL (SELECT z.status, CASE z.status WHEN 'pending' THEN 0 WHEN 'submitted' THEN 1 ELSE 2 END AS rank) st
        ORDER BY t`, [from, to, A, chunk]))
  await rebuildDropped()

  // --- telemetry packets (recent hours) and hourly rollups (every closed hour) ------------
  const packets = await q(`
    INSERT INTO gateway_telemetry (window_start, gateway_id, source, event_id, received_at, window_seconds, gateway_version,
                                   requests_total, requests_paid, requests_blocked, requests_error, payments_count,
                                   unique_agents, revenue, asset, latency_p50_ms, latency_p90_ms, latency_p95_ms,
                                   latency_p99_ms, latency_max_ms, routes)
    SELECT m, g.id, 'seed', g.id || '-' || extract(epoch FROM m)::bigint, m + interval '61 seconds', 60, 'v1.' || (g.idx % 5) || '.0',
           k.req, k.paid, k.blocked, k.err, k.paid, greatest(1, k.paid / 2), k.paid * 0.002, g.asset,
           l.p50, l.p50 * 2, l.p50 * 3, l.p50 * 5, l.p50 * 8,
           jsonb_build_array(
             jsonb_build_object('method', 'GET', 'route', '/v1/api-0/' || g.idx, 'requests', k.req / 2, 'paid', k.paid / 2,
               'blocked', k.blocked / 2, 'errors', k.err / 2, 'revenue', '0.01', 'latency_p50_ms', l.p50, 'latency_p99_ms', l.p50 * 5),
             jsonb_build_object('method', 'POST', 'route', '/v1/api-1/' || g.idx, 'requests', k.req / 4, 'paid', k.paid / 4,
               'blocked', 0, 'errors', 0, 'revenue', '0.01', 'latency_p50_ms', l.p50 * 1.5, 'latency_p99_ms', l.p50 * 6),
             jsonb_build_object('method', 'GET', 'route', '/v1/api-2/' || g.idx, 'requests', k.req / 8, 'paid', 0,
               'blocked', 0, 'errors', 0, 'revenue', '0', 'latency_p50_ms', l.p50 * 0.5, 'latency_p99_ms', l.p50 * 2))
      FROM seed_gw g
      CROSS JOIN generate_series(date_trunc('minute', now()) - $1::int * interval '1 hour',
                                 date_trunc('minute', now()) - interval '1 minute', interval '1 minute') m
      CROSS JOIN LATERAL (SELECT (g.per_hour / 60 * 1.3 + 5 + random() * 10)::int AS req) r
      CROSS JOIN LATERAL (SELECT r.req AS req, (r.req * 0.75)::int AS paid, (r.req * 0.05)::int AS blocked,
                                 (r.req * random() * 0.02)::int AS err) k
      CROSS JOIN LATERAL (SELECT 15 + random() * 20 AS p50) l
     WHERE NOT (g.idx % 33 = 5 AND m > now() - interval '6 hours')
       AND NOT (g.idx % 20 = 3 AND m > now() - interval '5 minutes')`, [TELEMETRY_HOURS])
  log(`gateway_telemetry: ${packets.toLocaleString("en")} packets`)
  const rollups = await q(`
    INSERT INTO gateway_stats_hourly (gateway_id, hour, packets, requests_total, requests_paid, requests_blocked,
                                      requests_error, payments_count, revenue, asset, latency_p50_ms, latency_p99_ms,
                                      latency_max_ms, payment_amount, payment_count)
    SELECT g.id, h.hour, 60, (coalesce(p.c, 0) * 1.3)::bigint + 300, coalesce(p.c, 0), (coalesce(p.c, 0) * 0.05)::bigint,
           (coalesce(p.c, 0) * 0.01)::bigint + 2, coalesce(p.c, 0), coalesce(p.amount, 0), g.asset,
           15 + random() * 20, 150 + random() * 100, 400 + random() * 200, coalesce(p.amount, 0), coalesce(p.c, 0)
      FROM seed_gw g
      CROSS JOIN generate_series(date_trunc('hour', now() - $1::int * interval '1 day', 'UTC'),
                                 date_trunc('hour', now(), 'UTC') - interval '1 hour', interval '1 hour') h(hour)
      LEFT JOIN (SELECT gateway_id, date_trunc('hour', event_time, 'UTC') AS hour, count(*) AS c, sum(amount) AS amount
                   FROM payment_authorized WHERE event_time < date_trunc('hour', now(), 'UTC')
                  GROUP BY 1, 2) p ON p.gateway_id = g.id AND p.hour = h.hour
     WHERE NOT (g.idx % 33 = 5 AND h.hour > now() - interval '7 hours')`, [DAYS])
  await q(`INSERT INTO rollup_state (job, watermark) VALUES ('gateway_stats_hourly', date_trunc('hour', now(), 'UTC'))
           ON CONFLICT (job) DO UPDATE SET watermark = EXCLUDED.watermark, updated_at = now()`)
  log(`gateway_stats_hourly: ${rollups.toLocaleString("en")} rows`)
  // What the rollup job builds for every finished UTC day (src/jobs/RollupConsole.ts): the console
  // reads those days from these tables, never builds them in a request.
  const finished = `p.event_time < date_trunc('day', now(), 'UTC')`
  await q(`INSERT INTO console_agent_daily (gateway_id, day, agent_id, asset, payments, amount, first_seen, last_seen)
           SELECT p.gateway_id, date_trunc('day', p.event_time, 'UTC'), p.agent_id, p.asset, count(*), sum(p.amount),
                  min(p.event_time), max(p.event_time)
             FROM payment_authorized p WHERE ${finished} GROUP BY 1, 2, 3, 4`)
  await q(`INSERT INTO console_revenue_hourly (gateway_id, hour, asset, payments, amount)
           SELECT p.gateway_id, date_trunc('hour', p.event_time, 'UTC'), p.asset, count(*), sum(p.amount)
             FROM payment_authorized p WHERE ${finished} GROUP BY 1, 2, 3`)
  const days = await q(`INSERT INTO console_rollup_days (gateway_id, day, payments, amount)
           SELECT p.gateway_id, date_trunc('day', p.event_time, 'UTC'), count(*), sum(p.amount)
             FROM payment_authorized p WHERE ${finished} GROUP BY 1, 2`)
  log(`console rollups: ${days.toLocaleString("en")} gateway-days`)
  await q(`DROP TABLE seed_gw`)
  rollupJob()

  log("VACUUM (ANALYZE) — index-only scans need the visibility map")
  for (const table of SEEDED) await q(`VACUUM (ANALYZE) ${table}`)
  log(`done: ${payments.toLocaleString("en")} payments, ${blocked.toLocaleString("en")} blocked, ${alerts.toLocaleString("en")} solvency alerts, ${intents.toLocaleString("en")} intents`)
  await client.end()
}

main().catch(async (error: unknown) => {
  process.stderr.write(`seed failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  await client.end().catch(() => undefined)
  process.exit(1)
})
