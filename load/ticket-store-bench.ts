/**
 * Where single-use ticket nonces live across api nodes: a JetStream KV `create` (fails when the
 * key exists) against a PostgreSQL `INSERT … ON CONFLICT DO NOTHING` on an unlogged table, one
 * redeem at a time from one client, as the ticket handler does it; and on a logged table (what
 * survives a database crash and reaches a standby). Prints median and p99 per store.
 *
 *   npx tsx load/ticket-store-bench.ts [--count 2000] [--nats nats://127.0.0.1:4222] \
 *     [--database postgres://postgres@127.0.0.1:5432/postgres]
 *
 * It uses a bucket and a table of its own (random names) and removes them afterwards.
 */
import { randomBytes } from "node:crypto"
import { connect } from "nats"
import pg from "pg"
import { parseOptions } from "./lib/args.js"

const options = parseOptions({
  count: 2000,
  nats: "nats://127.0.0.1:4222",
  database: process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres"
})

const summary = (name: string, samples: Array<number>) => {
  samples.sort((a, b) => a - b)
  const at = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] ?? 0
  console.log(`${name.padEnd(22)} n=${samples.length}  median ${at(0.5).toFixed(3)} ms  p99 ${at(0.99).toFixed(3)} ms`)
}

const time = async (run: () => Promise<unknown>) => {
  const start = process.hrtime.bigint()
  await run()
  return Number(process.hrtime.bigint() - start) / 1e6
}

const nonce = () => randomBytes(16).toString("hex")

const nc = await connect({ servers: options.nats })
const bucket = `bench_tickets_${randomBytes(4).toString("hex")}`
const kv = await nc.jetstream().views.kv(bucket, { ttl: 60_000, history: 1 })
const kvSamples: Array<number> = []
for (let i = 0; i < options.count; i++) kvSamples.push(await time(() => kv.create(nonce(), "")))
const key = nonce()
await kv.create(key, "")
const refused = await kv.create(key, "").then(() => false, () => true)
await kv.destroy()
await nc.close()

const client = new pg.Client({ connectionString: options.database })
await client.connect()
const table = `bench_nonces_${randomBytes(4).toString("hex")}`
const measure = async (kind: "UNLOGGED" | "") => {
  await client.query(`CREATE ${kind} TABLE ${table} (nonce text PRIMARY KEY, expires_at timestamptz NOT NULL)`)
  const samples: Array<number> = []
  for (let i = 0; i < options.count; i++) {
    samples.push(await time(() =>
      client.query(`INSERT INTO ${table} VALUES ($1, now() + interval '30 seconds') ON CONFLICT DO NOTHING`, [nonce()])))
  }
  await client.query(`DROP TABLE ${table}`)
  return samples
}
const pgUnlogged = await measure("UNLOGGED")
const pgLogged = await measure("")
await client.end()

summary("JetStream KV create", kvSamples)
summary("PostgreSQL unlogged", pgUnlogged)
summary("PostgreSQL logged", pgLogged)
console.log(`second create of one key refused: ${refused}`)
