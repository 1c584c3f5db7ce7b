/**
 * Starts the real server as a child process and samples its resident memory. In `testkit/`
 * because the load generators (`load/`) and the fault scenarios the tests run (`testkit/faults/`)
 * both start it; `load/` is never imported by a test.
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import { buildServer, serverArgs } from "../scripts/build.js"

/** A port nobody listens on (a fixed one may still be held by a previous run's server). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))))
    })
  })

export interface RunningServer {
  readonly url: string
  readonly child: ChildProcess
  readonly rssMb: () => number
  readonly stop: () => Promise<number | null>
  readonly log: () => string
}

let built = false

/**
 * An api process counts as listening for other processes' events a moment after it is ready
 * (src/realtime/Presence.ts); streams opened before then get a `reset`. Waited for here, so that
 * what a benchmark or test opens next starts clean. A process that stays degraded (a fault
 * scenario) is not held up beyond 15 s.
 */
const listening = async (url: string): Promise<void> => {
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.json() as Promise<{ components?: Record<string, { status: string }> }>,
      () => undefined
    )
    const realtime = health?.components?.["realtime"]
    if (health !== undefined && (realtime === undefined || realtime.status === "ok")) return
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Starts what `npm start` starts: the bundle, built once per benchmark process. */
export const startServer = async (
  env: Record<string, string>,
  port: number,
  nodeArgs: ReadonlyArray<string> = []
): Promise<RunningServer> => {
  if (!built) {
    buildServer()
    built = true
  }
  const child = spawn(process.execPath, [...nodeArgs, ...serverArgs()], {
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "Warning", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let log = ""
  child.stdout?.on("data", (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000)))
  child.stderr?.on("data", (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000)))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 90_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}):\n${log}`)
    const ok = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false)
    if (ok) break
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`server did not become ready:\n${log}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  await listening(url)
  return {
    url,
    child,
    rssMb: () => {
      try {
        const status = fs.readFileSync(`/proc/${child.pid}/status`, "utf8")
        const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN)
        return kb / 1024
      } catch {
        return Number.NaN
      }
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode)
        const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
        child.once("exit", (code) => {
          clearTimeout(timer)
          resolve(code)
        })
        child.kill("SIGTERM")
      }),
    log: () => log
  }
}
