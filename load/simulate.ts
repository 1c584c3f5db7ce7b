/**
 * The gateway simulator: a fleet of gateways on the gateway client library (gateway/).
 *
 *   npm run simulate -- init --database URL --receiver URL [--count N] [--relayer-url URL] [--out gateways.json]
 *       creates N gateways (key + signing secret) and writes their gateway config file;
 *       `relayer_url` defaults to the receiver endpoint.
 *   npm run simulate -- --gateways N --rate R --duration S [--receiver URL …] (--gateways-file F | --database URL)
 *       runs them: paid and blocked requests, agents with balances (solvency alerts), intents
 *       through their states, 60 s packets whose per-route stats add up to the totals, config
 *       changes now and then. `--processes P` splits the fleet over P child processes (one Node
 *       process cannot produce 10,000 events/s live on two cores). Prints a progress line each
 *       second and a summary; `--report FILE` writes the summary as JSON (the e2e harness reads it).
 */
import { NodeRuntime } from "@effect/platform-node"
import { fork } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { parseOptions } from "./lib/args.js"
import { type GatewayEntry, readGatewaysFile, seedGateways, writeGatewaysFile } from "../testkit/sim/gateways.js"
import { acked, mergeReports, type Report, totalDrops } from "../testkit/sim/report.js"
import { runFleet } from "../testkit/sim/run.js"
import { fromMicros } from "../gateway/index.js"

const argv = process.argv.slice(2)

const initCommand = Effect.promise(async () => {
  const o = parseOptions({ database: "", count: 1, "relayer-url": "", out: "gateways.json", vendor: "sim", prefix: "sim-gw-", sign: true }, ["receiver"], argv.slice(1))
  if (o.database === "" || o.receiver.length === 0) throw new Error("init needs --database URL and --receiver URL")
  const gateways = await seedGateways({
    databaseUrl: o.database, count: o.count, vendor: o.vendor, prefix: o.prefix, receivers: o.receiver, sign: o.sign,
    ...(o["relayer-url"] === "" ? {} : { relayerUrl: o["relayer-url"] })
  })
  writeGatewaysFile(o.out, gateways)
  console.log(`wrote ${gateways.length} gateway config(s) to ${o.out} (relayer_url ${gateways[0]!.relayer_url})`)
})

interface Progress { elapsed: number; events: number; acked: number; buffered: number; dropped: number; retries: number }

const progressLine = (p: Progress) =>
  `[${p.elapsed.toFixed(0).padStart(4)}s] events ${p.events} (${(p.events / Math.max(p.elapsed, 0.001)).toFixed(0)}/s) acked ${p.acked} ` +
  `buffered ${p.buffered} retries ${p.retries} dropped ${p.dropped}`

export const summaryLines = (r: Report): Array<string> => [
  `simulated ${r.gateways} gateways for ${r.seconds.toFixed(1)} s: ${r.events} events (${(r.events / Math.max(r.seconds, 0.001)).toFixed(0)}/s)`,
  `acknowledged ${acked(r)} events in ${r.client.requests} requests: ` +
    Object.entries(r.byType).map(([t, x]) => `${t} ${x.acked}`).join(", "),
  `client drops ${totalDrops(r)} (buffer_full ${r.client.dropped.buffer_full}, gave_up ${r.client.dropped.gave_up}, refused ${r.client.dropped.refused}); ` +
    `rejected ${r.client.rejected}; retries ${r.client.retries.retryAfter} after Retry-After, ${r.client.retries.transient} transient`,
  `payments ${r.payments.count} revenue ${fromMicros(BigInt(r.payments.revenueMicros))} USDC; blocked ${r.blocked}; intents to settlement ${r.client.settlement.ok} (failed ${r.client.settlement.failed})`,
  `packets ${r.packets.count} (with config ${r.packets.withConfig}): requests ${r.packets.requests}, paid ${r.packets.paid}, blocked ${r.packets.blocked}, ` +
    `errors ${r.packets.errors}; per-route stats add up: ${r.packets.routesAddUp ? "yes" : "NO"}`,
  ...(r.rejected.length > 0 ? [`rejected samples: ${r.rejected.join(" | ")}`] : [])
]

const runCommand = Effect.gen(function*() {
  const o = parseOptions({
    gateways: 10, rate: 1000, duration: 10, "gateways-file": "", database: "", processes: 1, agents: 200, window: 60,
    "config-every": 30, drain: 300, "settle-http": false, report: "", child: "", "run-id": "", quiet: false
  }, ["receiver"], argv)
  const runId = o["run-id"] || `sim${Date.now().toString(36)}`
  let gateways: Array<GatewayEntry>
  if (o["gateways-file"] !== "") {
    gateways = readGatewaysFile(o["gateways-file"]).slice(0, o.gateways)
    if (o.receiver.length > 0) gateways = gateways.map((g, i) => ({ ...g, receiver_url: o.receiver[i % o.receiver.length]! }))
  } else if (o.database !== "") {
    if (o.receiver.length === 0) throw new Error("--receiver URL is required")
    gateways = yield* Effect.promise(() => seedGateways({ databaseUrl: o.database, count: o.gateways, vendor: "sim", prefix: "sim-gw-", receivers: o.receiver, sign: true }))
  } else {
    throw new Error("give --gateways-file F (from `simulate init`) or --database URL to create the gateways")
  }

  const common = { rate: o.rate, seconds: o.duration, runId, agents: o.agents, windowSeconds: o.window, settleOverHttp: o["settle-http"], configEvery: o["config-every"], drainSeconds: o.drain }
  let report: Report
  if (o.child !== "") {
    // A child of a split fleet: progress to the parent over IPC, the report into a file.
    report = yield* runFleet({ ...common, gateways, onProgress: (p) => process.send?.({ progress: p }) })
  } else if (o.processes <= 1) {
    report = yield* runFleet({ ...common, gateways, ...(o.quiet ? {} : { onProgress: (p: Progress) => console.log(progressLine(p)) }) })
  } else {
    report = yield* Effect.promise(() => splitFleet(gateways, o.processes, { ...o, runId, receiver: [] }))
  }
  if (o.report !== "") fs.writeFileSync(o.report, JSON.stringify(report))
  if (o.child === "") for (const line of summaryLines(report)) console.log(line)
})

/** Runs the fleet as `processes` children (gateways dealt round-robin), merging progress and reports. */
const splitFleet = async (gateways: ReadonlyArray<GatewayEntry>, processes: number, o: Record<string, unknown> & { runId: string; rate: number; quiet: boolean }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "machpay-sim-"))
  const progress: Array<Progress> = []
  const n = Math.min(processes, gateways.length)
  const children = Array.from({ length: n }, (_, i) => {
    const mine = gateways.filter((_, j) => j % n === i)
    const file = path.join(dir, `gateways-${i}.json`)
    writeGatewaysFile(file, mine)
    const reportFile = path.join(dir, `report-${i}.json`)
    const args = [
      "--gateways-file", file, "--gateways", String(mine.length), "--rate", String((o.rate * mine.length) / gateways.length),
      "--duration", String(o["duration"]), "--agents", String(o["agents"]), "--window", String(o["window"]),
      "--config-every", String(o["config-every"]), "--drain", String(o["drain"]), "--run-id", `${o.runId}p${i}`, "--report", reportFile, "--child", String(i),
      ...(o["settle-http"] === true ? ["--settle-http"] : [])
    ]
    const child = fork(path.join(import.meta.dirname, "simulate.ts"), args, { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] })
    child.on("message", (m: { progress?: Progress }) => {
      if (m.progress) progress[i] = m.progress
    })
    return new Promise<Report>((resolve, reject) =>
      child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(fs.readFileSync(reportFile, "utf8")) as Report) : reject(new Error(`simulator child ${i} exited ${code}`))))
    )
  })
  const timer = o.quiet ? undefined : setInterval(() => {
    if (progress.length === 0) return
    const sum = progress.reduce((a, p) => ({
      elapsed: Math.max(a.elapsed, p.elapsed), events: a.events + p.events, acked: a.acked + p.acked,
      buffered: a.buffered + p.buffered, dropped: a.dropped + p.dropped, retries: a.retries + p.retries
    }), { elapsed: 0, events: 0, acked: 0, buffered: 0, dropped: 0, retries: 0 })
    console.log(`${progressLine(sum)} (${n} processes)`)
  }, 1000)
  try {
    return mergeReports(await Promise.all(children))
  } finally {
    if (timer) clearInterval(timer)
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

NodeRuntime.runMain(argv[0] === "init" ? initCommand : runCommand, { disablePrettyLogger: true })
