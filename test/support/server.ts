/**
 * The real server as a child process, for end-to-end tests: the `npm start` bundle (built once
 * by the global setup) on a free port
 * against a given database, ready once `/health/ready` answers 200, stopped with SIGTERM (and
 * awaited) when the scope closes. Its output is kept so a failed start says why.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Data, Deferred, Duration, Effect, Schedule } from "effect"
import { serverArgs } from "../../scripts/build.js"
import { freePort } from "./helpers.js"

export { freePort }

const ROOT = fileURLToPath(new URL("../../", import.meta.url))

export class ServerStartError extends Data.TaggedError("ServerStartError")<{ readonly message: string }> {}

export interface TestServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string
  readonly port: number
  /** The server process (its own process group), e.g. to SIGKILL it in a fault test. */
  readonly pid: number
  /** The process's stdout and stderr so far (bounded). */
  readonly output: () => string
}

export interface TestServerOptions {
  readonly databaseUrl: string
  /** Extra environment (INGEST_*, ROLES …); `PORT`, `HOST`, `DATABASE_URL` and `DATA_DIR` are set here. */
  readonly env?: Readonly<Record<string, string>>
  readonly readyTimeout?: Duration.DurationInput
  /** A data directory (journal) to reuse across restarts; by default a new one, removed afterwards. */
  readonly dataDir?: string
}


const MAX_OUTPUT_CHARS = 64 * 1024

const KILL_AFTER_MS = 15_000

/**
 * SIGTERM to the server (a graceful drain). If it has not exited in time, SIGKILL its whole
 * process group, so nothing it started (an embedded PostgreSQL) is left behind.
 */
const stop = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    const killer = setTimeout(() => {
      process.stderr.write(`test server ${child.pid} did not exit within ${KILL_AFTER_MS} ms of SIGTERM; killing it\n`)
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
      } catch {
        child.kill("SIGKILL")
      }
    }, KILL_AFTER_MS)
    child.once("exit", () => {
      clearTimeout(killer)
      resume(Effect.void)
    })
    child.kill("SIGTERM")
  })

const probeReady = (url: string) =>
  Effect.tryPromise({
    try: async () => {
      const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2_000) })
      await response.arrayBuffer()
      return response.status
    },
    catch: (cause) => new ServerStartError({ message: `not listening yet: ${String(cause)}` })
  }).pipe(
    Effect.filterOrFail((status) => status === 200, (status) => new ServerStartError({ message: `/health/ready answered ${status}` }))
  )

/** Starts the server in the current scope; the scope's closing stops it (SIGTERM) and waits for it. */
export const startTestServer = (options: TestServerOptions) =>
  Effect.gen(function*() {
    const port = yield* Effect.promise(freePort)
    const dataDir = options.dataDir ?? (yield* Effect.acquireRelease(
      Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "machpay-e2e-"))),
      (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
    ))
    let output = ""
    const append = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-MAX_OUTPUT_CHARS)
    }
    const exited = yield* Deferred.make<string>()
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn(process.execPath, [...serverArgs()], {
          cwd: ROOT,
          env: {
            ...process.env,
            LOG_LEVEL: "Warning",
            SHUTDOWN_DRAIN_TIMEOUT: "5 seconds",
            ...options.env,
            DATABASE_URL: options.databaseUrl,
            PORT: String(port),
            HOST: "127.0.0.1",
            DATA_DIR: dataDir
          },
          stdio: ["ignore", "pipe", "pipe"],
          // Its own process group, so anything it started is killed with it (see `stop`).
          detached: true
        })
        child.stdout?.on("data", append)
        child.stderr?.on("data", append)
        child.once("exit", (code, signal) => Deferred.unsafeDone(exited, Effect.succeed(`exited (code ${code}, signal ${signal})`)))
        child.once("error", (error) => Deferred.unsafeDone(exited, Effect.succeed(`could not start: ${error.message}`)))
        return child
      }),
      stop
    )
    const url = `http://127.0.0.1:${port}`
    const failStart = (why: string) =>
      new ServerStartError({ message: `server on port ${port} ${why}\n--- output ---\n${output}` })
    yield* Effect.raceFirst(
      probeReady(url).pipe(
        Effect.retry(Schedule.spaced("100 millis")),
        Effect.timeoutFail({
          duration: options.readyTimeout ?? "60 seconds",
          onTimeout: () => failStart("did not become ready")
        })
      ),
      Effect.flatMap(Deferred.await(exited), (why) => Effect.fail(failStart(why)))
    )
    const server: TestServer = { url, port, pid: child.pid ?? 0, output: () => output }
    return server
  })
