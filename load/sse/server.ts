/**
 * The real server as a child process for the SSE benchmark, with its resident memory sampled.
 * Readiness probes are time-bounded: a request that reaches the socket after `listen` but before
 * the HTTP handlers are attached is never answered, so an unbounded probe can hang forever.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"

export interface BenchServer {
  readonly url: string
  readonly child: ChildProcess
  readonly rssMb: () => number
  readonly stop: () => Promise<number | null>
}

export const startBenchServer = async (
  env: Record<string, string>,
  port: number,
  nodeArgs: ReadonlyArray<string> = []
): Promise<BenchServer> => {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", "src/main.ts"], {
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
  return {
    url,
    child,
    rssMb: () => {
      try {
        const kb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? Number.NaN)
        return kb / 1024
      } catch {
        return Number.NaN
      }
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode)
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000)
        child.once("exit", (code) => {
          clearTimeout(timer)
          resolve(code)
        })
        child.kill("SIGTERM")
      })
  }
}
