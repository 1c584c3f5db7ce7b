/**
 * One end-to-end run: the layout (two receivers, api, worker) on a fresh database, the gateway
 * simulator against both receivers, SSE subscribers on every topic kind on the api process,
 * then the checks of checks.ts. Returns the verdict lines; `ok` is their conjunction.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { claimsFor } from "../../src/identity/Jwt.js"
import { signHs256 } from "../jwt.js"
import { fmt, summary } from "../stats.js"
import { seedGateways, writeGatewaysFile } from "../sim/gateways.js"
import { acked, type Report, totalDrops } from "../sim/report.js"
import { type Check, delivered, type Figures, figuresMatch, storedOnce } from "./checks.js"
import { startLayout } from "./layout.js"
import { openSubscribers, type SubscriberSpec } from "./subscribers.js"

export interface E2eOptions {
  readonly adminUrl: string
  readonly rate: number
  readonly seconds: number
  readonly gateways: number
  readonly processes: number
  readonly agentSubscribers: number
  readonly keep: boolean
  /** Extra environment for every server process. */
  readonly env?: Readonly<Record<string, string>>
  readonly log: (line: string) => void
}

export interface E2eResult {
  readonly ok: boolean
  readonly checks: ReadonlyArray<Check>
  readonly lines: ReadonlyArray<string>
  readonly report: Report
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const simulate = (args: ReadonlyArray<string>, log: (line: string) => void) =>
  new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "..", "..", "load", "simulate.ts"), ...args], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let tail = ""
    const onData = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-10_000)
      for (const line of chunk.toString().split("\n")) if (line.startsWith("[")) log(`  sim ${line}`)
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`simulator exited ${code}:\n${tail}`))))
  })

export const runE2e = async (options: E2eOptions): Promise<E2eResult> => {
  const { log } = options
  const lines: Array<string> = []
  const say = (line: string) => {
    lines.push(line)
    log(line)
  }
  log("starting two receivers, an api process and a worker on a fresh database…")
  const layout = await startLayout({ adminUrl: options.adminUrl, keep: options.keep, ...(options.env === undefined ? {} : { env: options.env }) })
  const db = new pg.Pool({ connectionString: layout.databaseUrl, max: 4 })
  db.on("error", () => undefined)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "machpay-e2e-sim-"))
  try {
    const gateways = await seedGateways({
      databaseUrl: layout.databaseUrl, count: options.gateways, vendor: "sim", prefix: "sim-gw-",
      receivers: layout.receivers.map((r) => r.url), sign: true
    })
    const gatewaysFile = path.join(dir, "gateways.json")
    writeGatewaysFile(gatewaysFile, gateways)

    const token = (spec: Parameters<typeof claimsFor>[0]) => signHs256(claimsFor(spec, { now: Date.now() / 1000, ttlSeconds: 7200 }), layout.jwtSecret)
    const vendorToken = token({ role: "vendor", vendorId: "sim" })
    const specs: Array<SubscriberSpec> = [
      { name: "ticker", topics: "ticker", kind: "ticker", key: "", headers: {} },
      ...gateways.map((g): SubscriberSpec => ({
        name: `vendor:${g.gateway_id}`, topics: `vendor:${g.gateway_id}`, kind: "vendor", key: g.gateway_id,
        headers: { authorization: `Bearer ${vendorToken}` }
      })),
      ...Array.from({ length: options.agentSubscribers }, (_, i): SubscriberSpec => {
        const agentId = `${gateways[i % gateways.length]!.gateway_id}-agent-${Math.floor(i / gateways.length)}`
        return { name: `agent:${agentId}`, topics: `agent:${agentId}`, kind: "agent", key: agentId, headers: { authorization: `Bearer ${token({ role: "agent", agentId })}` } }
      })
    ]
    const subscribers = await openSubscribers(layout.api.url, specs)
    log(`${specs.length} SSE subscribers on the api process (ticker, ${gateways.length} vendor, ${options.agentSubscribers} agent)`)

    const reportFile = path.join(dir, "report.json")
    const startedAt = new Date()
    log(`simulating ${options.gateways} gateways at ${options.rate} events/s for ${options.seconds} s against both receivers (${options.processes} processes)…`)
    await simulate([
      "--gateways-file", gatewaysFile, "--gateways", String(options.gateways), "--rate", String(options.rate),
      "--duration", String(options.seconds), "--processes", String(options.processes), "--report", reportFile,
      "--window", String(Math.max(5, Math.min(60, Math.floor(options.seconds / 2)))), "--config-every", "20"
    ], log)
    // Wall time of the simulator, its drain included: what the receivers really took in per second.
    const simulatorSeconds = (Date.now() - startedAt.getTime()) / 1000
    const report = JSON.parse(fs.readFileSync(reportFile, "utf8")) as Report

    // Everything acknowledged reaches the database (journal → PostgreSQL) within the drain time.
    const drainStart = Date.now()
    for (;;) {
      const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM telemetry_events")
      if ((rows[0]?.n ?? 0) >= acked(report) || Date.now() - drainStart > 120_000) break
      await sleep(250)
    }
    const drainSeconds = (Date.now() - drainStart) / 1000
    const checks: Array<Check> = []
    checks.push({
      name: "simulator: zero client-side drops and rejections",
      ok: totalDrops(report) === 0 && report.client.rejected === 0,
      detail: `dropped ${totalDrops(report)}, rejected ${report.client.rejected}${report.rejected.length > 0 ? ` (${report.rejected.join(" | ")})` : ""}`
    })
    checks.push(...await storedOnce(db, report))
    checks.push(...await delivered(db, subscribers.received, 60_000))
    subscribers.close()

    await layout.cli(["jobs", "run", "rollup"])
    const hour = new Date(startedAt)
    hour.setUTCMinutes(0, 0, 0)
    const range = `from=${encodeURIComponent(new Date(hour.getTime() - 3600_000).toISOString())}&to=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`
    const get = async <A>(p: string): Promise<A> => {
      const response = await fetch(`${layout.api.url}${p}?${range}`, { headers: { authorization: `Bearer ${vendorToken}` } })
      if (!response.ok) throw new Error(`GET ${p}: HTTP ${response.status} ${await response.text()}`)
      return (await response.json()) as A
    }
    const figures: Figures = { metrics: await get("/v1/vendor/metrics"), stats: await get("/v1/vendor/stats") }
    checks.push(...figuresMatch(figures, report))

    const commit = summary(subscribers.commitLatencies)
    const ingest = summary(subscribers.ingestLatencies)
    const p95 = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.max(0, Math.ceil(values.length * 0.95) - 1)] ?? Number.NaN
    say(`throughput: ${report.events} events generated in ${fmt(report.seconds)} s = ${fmt(report.events / report.seconds, 0)} events/s; ` +
      `${acked(report)} acknowledged by the time the simulator exited, ${fmt(simulatorSeconds)} s after it started (${fmt(acked(report) / simulatorSeconds, 0)} events/s end to end; ${report.client.requests} requests, ${report.client.retries.retryAfter} Retry-After waits, ${report.client.retries.transient} transient retries); stored in full ${fmt(drainSeconds)} s after the run`)
    say(`SSE: ${subscribers.received.reduce((n, r) => n + r.messages, 0)} messages to ${specs.length} subscribers; ` +
      `ingest→client ms p50 ${fmt(ingest.p50, 0)} p95 ${fmt(p95(subscribers.ingestLatencies), 0)} p99 ${fmt(ingest.p99, 0)} max ${fmt(ingest.max, 0)}; ` +
      `commit→client ms p50 ${fmt(commit.p50, 0)} p99 ${fmt(commit.p99, 0)} max ${fmt(commit.max, 0)}`)
    say(`loss: ${totalDrops(report)} dropped by clients; ${checks.filter((c) => !c.ok).length} failed checks of ${checks.length}`)
    const failed = checks.filter((c) => !c.ok)
    // Subscriber lines are many; print them all only when one failed.
    const shown = failed.length > 0 ? checks : checks.filter((c) => !c.name.startsWith("delivered: vendor:") && !c.name.startsWith("delivered: agent:"))
    for (const c of shown) say(`${c.ok ? "PASS" : "FAIL"} ${c.name}: ${c.detail}`)
    if (failed.length === 0) {
      const subs = checks.filter((c) => c.name.startsWith("delivered: "))
      say(`PASS delivered: all ${subs.length} subscribers got exactly the events their topics cover`)
    }
    return { ok: failed.length === 0, checks, lines, report }
  } finally {
    await db.end()
    fs.rmSync(dir, { recursive: true, force: true })
    await layout.stop()
  }
}
