/**
 * nats-server for tests: one JetStream server, or a 3-node JetStream cluster, on free ports in
 * a temporary directory (never the machine's 4222). Each server is its own child process, killed
 * (SIGKILL) when the scope closes, even when the test failed or timed out; `kill` lets a failover
 * test take one node down.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Schedule } from "effect"
import { connect, RetentionPolicy, StorageType } from "nats"
import { freePort } from "./helpers.js"

export interface NatsNode {
  readonly url: string
  readonly port: number
  readonly kill: () => void
  readonly output: () => string
}

export interface NatsCluster {
  readonly nodes: ReadonlyArray<NatsNode>
  /** All client URLs, comma separated (as `NATS_URL` takes them). */
  readonly urls: string
}

const canConnect = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

const kill = (child: ChildProcess) => {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
}

/** Every process this module started, killed on exit too (a hung test must not leave servers behind). */
const started = new Set<ChildProcess>()
process.once("exit", () => {
  for (const child of started) kill(child)
})

const startNode = (dir: string, name: string, port: number, cluster?: { readonly port: number; readonly routes: ReadonlyArray<number> }) =>
  Effect.gen(function*() {
    const args = ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", path.join(dir, name), "-n", name]
    if (cluster !== undefined) {
      args.push(
        "--cluster_name",
        "machpay-test",
        "--cluster",
        `nats://127.0.0.1:${cluster.port}`,
        "--routes",
        cluster.routes.map((p) => `nats://127.0.0.1:${p}`).join(",")
      )
    }
    let output = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn("nats-server", args, { stdio: ["ignore", "pipe", "pipe"] })
        const append = (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-32_000))
        child.stdout?.on("data", append)
        child.stderr?.on("data", append)
        started.add(child)
        return child
      }),
      (child) =>
        Effect.sync(() => {
          kill(child)
          started.delete(child)
        })
    )
    yield* Effect.promise(() => canConnect(port)).pipe(
      Effect.filterOrFail((ok) => ok, () => new Error(`nats-server ${name} not listening:\n${output}`)),
      Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 200 }),
      Effect.orDie
    )
    return { url: `nats://127.0.0.1:${port}`, port, kill: () => kill(child), output: () => output } satisfies NatsNode
  })

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "machpay-nats-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

/** One JetStream server. */
export const startNats = Effect.gen(function*() {
  const dir = yield* tempDir
  return yield* startNode(dir, "n1", yield* Effect.promise(freePort))
})

/**
 * Waits until the cluster can place a stream on all three nodes: accepting clients is not
 * enough, the JetStream meta group must have formed, which on a loaded machine took longer than
 * a server's own start-up retries (30 s) once in CI ("no suitable peers for placement").
 */
const placementReady = (urls: string) =>
  Effect.promise(async () => {
    const nc = await connect({ servers: urls.split(","), maxReconnectAttempts: -1, reconnectTimeWait: 100 })
    try {
      const jsm = await nc.jetstreamManager({ timeout: 2_000 })
      await jsm.streams.add({
        name: "TEST_READY_PROBE",
        subjects: ["test.ready.probe"],
        num_replicas: 3,
        storage: StorageType.Memory,
        retention: RetentionPolicy.Limits
      })
      await jsm.streams.delete("TEST_READY_PROBE")
      return true
    } catch {
      return false
    } finally {
      await nc.close().catch(() => undefined)
    }
  }).pipe(
    Effect.filterOrFail((ok) => ok, () => new Error("the NATS cluster cannot place a 3-replica stream yet")),
    Effect.retry({ schedule: Schedule.spaced("250 millis"), times: 360 }),
    Effect.orDie
  )

/** Three JetStream servers routed to each other; returns once they can place a 3-replica stream. */
export const startNatsCluster = Effect.gen(function*() {
  const dir = yield* tempDir
  const clientPorts: Array<number> = []
  const clusterPorts: Array<number> = []
  for (let i = 0; i < 3; i++) {
    clientPorts.push(yield* Effect.promise(freePort))
    clusterPorts.push(yield* Effect.promise(freePort))
  }
  const nodes = yield* Effect.all(
    clientPorts.map((port, i) =>
      startNode(dir, `n${i + 1}`, port, { port: clusterPorts[i] ?? 0, routes: clusterPorts.filter((_, j) => j !== i) })
    ),
    { concurrency: 3 }
  )
  const urls = nodes.map((n) => n.url).join(",")
  yield* placementReady(urls)
  return { nodes, urls } satisfies NatsCluster
})
