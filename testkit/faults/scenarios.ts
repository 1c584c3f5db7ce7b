/**
 * The durability fault scenarios (issue 4). Each runs the real server under load, injects one
 * fault, and then checks that every acknowledged event is in PostgreSQL exactly once.
 *
 * Why `testkit/`: the same scenarios are a benchmark (`npx tsx load/faults.ts` prints their
 * figures) and a test (`test/e2e/faults.e2e.test.ts` runs the `--short` form). Neither owns
 * them, so they live in this neutral top-level folder that `load/` and `test/` both import and
 * that imports neither (test/structure/test-imports.test.ts checks it; no test imports `load/`).
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import pg from "pg"

import { makeApp, makeDatabaseServer, seedGateways, sleep, startSender, verifyAcked } from "./harness.js"

export interface FaultReport {
  readonly scenario: string
  readonly sent: number
  readonly acknowledged: number
  readonly stored: number
  readonly lost: number
  readonly storedTwice: number
  readonly duplicatesReported: number
  readonly drainSeconds: number
  readonly refused: Record<string, number>
  readonly notes: ReadonlyArray<string>
}

export interface Timing {
  /** Seconds of load before the fault, during it, and after recovery. */
  readonly before: number
  readonly fault: number
  readonly after: number
  readonly batch: number
  readonly batchesPerSecond: number
}

export const FULL: Timing = { before: 10, fault: 20, after: 10, batch: 200, batchesPerSecond: 20 }
export const SHORT: Timing = { before: 2, fault: 4, after: 2, batch: 50, batchesPerSecond: 10 }

/** Progress on stderr, so a long scenario shows where it is. */
export const step = (message: string) => process.stderr.write(`  [${new Date().toISOString().slice(11, 19)}] ${message}\n`)

const setup = async (env: Record<string, string> = {}) => {
  step("starting PostgreSQL and the server")
  const runId = randomBytes(3).toString("hex")
  const db = await makeDatabaseServer()
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "machpay-fault-app-"))
  const app = await makeApp({ DATABASE_URL: db.url, DATA_DIR: dataDir, ROLES: "receiver", SHUTDOWN_DRAIN_TIMEOUT: "10 seconds", ...env })
  const gateways = await seedGateways(db.url, 4, runId)
  step(`server up at ${app.url}`)
  const cleanup = async () => {
    await app.signal("SIGKILL")
    await db.destroy()
    await fs.rm(dataDir, { recursive: true, force: true })
  }
  return { runId, db, app, gateways, dataDir, cleanup }
}

const report = async (
  scenario: string,
  env: Awaited<ReturnType<typeof setup>>,
  sender: ReturnType<typeof startSender>,
  notes: Array<string>,
  options: { readonly stopped?: boolean; readonly verifyTimeoutMs?: number } = {}
): Promise<FaultReport> => {
  if (!options.stopped) {
    step("stopping the load")
    const unacked = await sender.stop()
    if (unacked > 0) notes.push(`${unacked} batches never acknowledged (not counted)`)
  }
  step("verifying")
  const check = await verifyAcked(env.db.url, sender.stats.acked, options.verifyTimeoutMs)
  if (check.missing.length > 0) {
    // What the server said while events were missing, so a failure can be read from the report.
    const health = await fetch(`${env.app.url}/health`).then((r) => r.text(), (error: Error) => `unreachable: ${error.message}`)
    notes.push(`missing e.g. ${check.missing.slice(0, 3).join(", ")}`, `/health after the wait: ${health}`)
    const client = new pg.Client({ connectionString: env.db.url })
    await client.connect()
    const { rows } = await client.query<{ reason: string; n: number }>(
      "SELECT left(reason, 300) AS reason, count(*)::int AS n FROM dead_letters GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
    ).finally(() => client.end())
    notes.push(`dead letters: ${JSON.stringify(rows)}`)
    notes.push(`server log tail:\n${(env.app.server?.log() ?? "").slice(-4000)}`)
  }
  return {
    scenario,
    sent: sender.stats.sent,
    acknowledged: sender.stats.acked.size,
    stored: check.stored,
    lost: check.missing.length,
    storedTwice: check.doubled,
    duplicatesReported: sender.stats.duplicates,
    drainSeconds: check.drainSeconds,
    refused: Object.fromEntries(sender.stats.refused),
    notes
  }
}

const load = (env: Awaited<ReturnType<typeof setup>>, t: Timing) =>
  startSender(env.app.url, env.gateways, { batch: t.batch, perSecond: t.batchesPerSecond, runId: env.runId })

/** 1. PostgreSQL stopped in the middle of the load, then started again. */
export const databaseOutage = async (t: Timing): Promise<FaultReport> => {
  const env = await setup()
  try {
    const sender = load(env, t)
    await sleep(t.before * 1000)
    await env.db.stop()
    await sleep(t.fault * 1000)
    const health = await fetch(`${env.app.url}/health`).then((r) => r.json() as Promise<{ status: string }>)
    await env.db.start()
    await sleep(t.after * 1000)
    return await report("database stopped", env, sender, [`/health during the outage: ${health.status}`])
  } finally {
    await env.cleanup()
  }
}

/** 2. The server sent SIGTERM in the middle of the load, then started again. */
export const sigterm = async (t: Timing): Promise<FaultReport> => {
  const env = await setup()
  try {
    const sender = load(env, t)
    await sleep(t.before * 1000)
    step("SIGTERM")
    const code = await env.app.signal("SIGTERM")
    step(`server exited with ${code}`)
    await sleep(t.fault * 1000)
    await env.app.start()
    step("server restarted")
    await sleep(t.after * 1000)
    return await report("SIGTERM + restart", env, sender, [`exit code ${code}`])
  } finally {
    await env.cleanup()
  }
}

/** 3. In journal mode, the server SIGKILLed in the middle of the load, then started again. */
export const sigkill = async (t: Timing): Promise<FaultReport> => {
  const env = await setup({ INGEST_DURABILITY: "journal" })
  try {
    const sender = load(env, t)
    await sleep(t.before * 1000)
    await env.app.signal("SIGKILL")
    await sleep(t.fault * 1000)
    await env.app.start()
    await sleep(t.after * 1000)
    return await report("SIGKILL + restart (journal mode)", env, sender, [])
  } finally {
    await env.cleanup()
  }
}

/**
 * 4. A journal segment with a torn last record and a flipped byte: the database is away so
 * events sit only in the journal; the server is killed; the segment is damaged; on restart
 * recovery keeps every intact record and reports the damaged one. One acknowledged event is
 * lost here by construction (its bytes were destroyed) — the point is that nothing else is.
 */
export const corruptJournal = async (t: Timing): Promise<FaultReport> => {
  const env = await setup({ INGEST_DURABILITY: "journal" })
  try {
    const sender = load(env, t)
    await sleep(1000) // the gateways' keys are known (cached) before the database goes away
    await env.db.stop()
    step("database stopped; events now wait in the journal")
    await sleep(t.before * 1000)
    await sender.stop(1000)
    await env.app.signal("SIGKILL")
    const journalDir = path.join(env.dataDir, "journal")
    const segment = (await fs.readdir(journalDir)).filter((f) => f.endsWith(".open") || f.endsWith(".seg")).sort().pop()
    const notes: Array<string> = []
    if (segment) {
      const file = path.join(journalDir, segment)
      const data = await fs.readFile(file)
      // Flip a byte among the newer records (those only the journal holds), then tear the end.
      const at = Math.floor(data.length * 0.8)
      data[at] = (data[at] ?? 0) ^ 0xff
      await fs.writeFile(file, data.subarray(0, data.length - 7)) // tear the last record
      notes.push(`damaged ${segment}: flipped byte at ${at}, cut 7 bytes`)
    }
    await env.db.start()
    await env.app.start()
    const log = env.app.server?.log() ?? ""
    const recovered = log.split("\n").find((line) => line.includes("journal recovery")) ?? "(no recovery log line)"
    notes.push(recovered.slice(0, 300))
    return await report("corrupt journal segment", env, sender, notes, { stopped: true, verifyTimeoutMs: 15_000 })
  } finally {
    await env.cleanup()
  }
}

/** 5. The journal full (a size cap) while the database is away: 503 + Retry-After, no crash, recovery. */
export const journalFull = async (t: Timing): Promise<FaultReport> => {
  const env = await setup({ INGEST_DURABILITY: "journal", JOURNAL_MAX_BYTES: String(256 * 1024), JOURNAL_SEGMENT_BYTES: String(64 * 1024) })
  try {
    await env.db.stop()
    const sender = load(env, t)
    await sleep((t.before + t.fault) * 1000)
    const probe = await fetch(`${env.app.url}/v1/ingest`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.gateways[0]!.key}`, "content-type": "application/cloudevents-batch+json" },
      body: JSON.stringify([{ specversion: "1.0", id: `probe-${env.runId}`, source: `machpay://gateway/${env.gateways[0]!.id}`, type: "Probe" }])
    })
    const alive = env.app.server?.child.exitCode === null
    await env.db.start()
    await sleep(t.after * 1000)
    return await report("journal full (256 KiB cap, database away)", env, sender, [
      `probe while full: ${probe.status}, Retry-After ${probe.headers.get("retry-after")}`,
      `server alive while full: ${alive}`
    ])
  } finally {
    await env.cleanup()
  }
}

export const SCENARIOS = { databaseOutage, sigterm, sigkill, corruptJournal, journalFull } as const

export const printReport = (r: FaultReport) =>
  console.log(
    `${r.scenario.padEnd(42)} sent ${r.sent}, acknowledged ${r.acknowledged}, stored ${r.stored}, lost ${r.lost}, ` +
      `stored twice ${r.storedTwice}, duplicates reported ${r.duplicatesReported}, drain ${r.drainSeconds.toFixed(1)} s, ` +
      `refused ${JSON.stringify(r.refused)}${r.notes.length ? `\n    ${r.notes.join("\n    ")}` : ""}`
  )


