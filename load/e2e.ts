/**
 * The whole system under load, and proof that nothing was lost (docs/e2e.md):
 *
 *   npm run e2e -- [--rate 10000] [--duration 60] [--gateways 50] [--processes 3] [--agents 20]
 *                  [--admin-url postgres://postgres@127.0.0.1:5432/postgres] [--keep] [--env NAME=value …]
 *
 * Builds the bundle, starts two receivers, an api process and a worker on a fresh database, runs
 * the gateway simulator against both receivers with SSE subscribers on every topic kind, then
 * prints throughput, latency percentiles, loss and a PASS/FAIL line per check; exits 1 on a FAIL.
 * `--env` (repeatable) is passed to every server process, e.g. `--env INGEST_DURABILITY=memory`.
 */
import { envPairs, parseOptions } from "./lib/args.js"
import { runE2e } from "../testkit/e2e/run.js"

const o = parseOptions({
  rate: 10_000, duration: 60, gateways: 50, processes: 3, agents: 20,
  "admin-url": process.env["TEST_DATABASE_URL"] ?? process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres",
  keep: false
}, ["env"])

runE2e({
  adminUrl: o["admin-url"], rate: o.rate, seconds: o.duration, gateways: o.gateways, processes: o.processes,
  agentSubscribers: o.agents, keep: o.keep, env: envPairs(o.env), log: (line) => console.log(line)
}).then(
  (result) => {
    console.log(result.ok ? "e2e: PASS" : "e2e: FAIL")
    process.exit(result.ok ? 0 : 1)
  },
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
