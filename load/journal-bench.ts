/**
 * Journal micro-benchmark: appends/s and append latency for 1 KB records with 1, 16 and 64
 * concurrent appenders, per fsync policy, on a temporary directory on the real disk.
 *
 *   npx tsx load/journal-bench.ts [seconds-per-run=3] [directory=os.tmpdir()]
 *
 * Each appender loops `append([1 KB], { spilled: false })` and commits what it wrote, so the
 * journal also exercises rolling and segment deletion. Prints one line per run and the fsync
 * count, which shows group commit at work (fsyncs ≪ appends under concurrency). A last run
 * appends 100 records per call, as a pipeline flushing batches would.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Metric } from "effect"
import * as fsp from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { Journal, JournalLive } from "../src/journal/Journal.js"
import * as Metrics from "../src/journal/Metrics.js"
import type { FsyncPolicy } from "../src/journal/Service.js"

const seconds = Number(process.argv[2] ?? 3)
const base = process.argv[3] ?? os.tmpdir()
const record = new TextEncoder().encode(JSON.stringify({ type: "PaymentAuthorized" }).padEnd(1024, " "))

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

const run = (policy: FsyncPolicy, concurrency: number, perAppend = 1) =>
  Effect.gen(function* () {
    const directory = yield* Effect.acquireRelease(
      Effect.promise(() => fsp.mkdtemp(path.join(base, "journal-bench-"))),
      (dir) => Effect.promise(() => fsp.rm(dir, { recursive: true, force: true }))
    )
    const fsyncsBefore = (yield* Metric.value(Metrics.fsyncs)).count
    const latencies: Array<number> = []
    const batch = Array.from({ length: perAppend }, () => record)
    const started = performance.now()
    const deadline = started + seconds * 1000
    yield* Effect.gen(function* () {
      const journal = yield* Journal
      const appender = Effect.gen(function* () {
        while (performance.now() < deadline) {
          const t0 = performance.now()
          const refs = yield* journal.append(batch, { spilled: false })
          latencies.push(performance.now() - t0)
          yield* journal.commit(refs)
        }
      })
      yield* Effect.all(Array.from({ length: concurrency }, () => appender), { concurrency: "unbounded", discard: true })
    }).pipe(Effect.provide(JournalLive({ directory, fsync: policy, segmentBytes: 16 * 1024 * 1024 })))
    const elapsed = (performance.now() - started) / 1000
    const fsyncs = (yield* Metric.value(Metrics.fsyncs)).count - fsyncsBefore
    latencies.sort((a, b) => a - b)
    const row = [
      policy.padEnd(8),
      String(concurrency).padStart(3),
      String(perAppend).padStart(4),
      Math.round(latencies.length / elapsed).toString().padStart(9),
      Math.round((latencies.length * perAppend) / elapsed).toString().padStart(9),
      percentile(latencies, 50).toFixed(2).padStart(8),
      percentile(latencies, 99).toFixed(2).padStart(8),
      String(fsyncs).padStart(8),
      (latencies.length / Math.max(1, fsyncs)).toFixed(1).padStart(8)
    ]
    yield* Effect.sync(() => console.log(row.join("  ")))
  }).pipe(Effect.scoped)

const main = Effect.gen(function* () {
  yield* Effect.sync(() => {
    console.log(`journal bench: 1 KB records, ${seconds} s per run, directory ${base}, node ${process.version}, ${os.cpus().length} cpus`)
    console.log("policy    conc  recs  appends/s  records/s  p50 ms   p99 ms    fsyncs  appends/fsync")
  })
  for (const policy of ["always", "interval", "never"] as const) {
    for (const concurrency of [1, 16, 64]) yield* run(policy, concurrency)
  }
  // How the pipeline will call it: a flushed batch of events per append.
  yield* run("always", 16, 100)
})

NodeRuntime.runMain(main, { disablePrettyLogger: true })
