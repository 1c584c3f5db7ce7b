/**
 * Real processes for the embedded-PostgreSQL tests: the `npm start` bundle (built by the global
 * setup) on the embedded database of a given DATA_DIR — no DATABASE_URL — and the CLI as
 * `npm run cli` runs it. Plain promises: these tests are about processes, ports and files.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { serverArgs } from "../../../scripts/build.js"

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url))
import { sleep } from "../../support/helpers.js"

export { freePort } from "../../support/helpers.js"

/** Our environment without a database URL, so the processes under test use the embedded one. */
const embeddedEnv = (env: Readonly<Record<string, string>>): NodeJS.ProcessEnv => {
  const { DATABASE_URL: _url, TEST_DATABASE_URL: _test, ...rest } = process.env
  return { ...rest, LOG_FORMAT: "json", LOG_LEVEL: "info", SHUTDOWN_DRAIN_TIMEOUT: "5 seconds", ...env }
}

export interface ServerProcess {
  readonly url: string
  readonly child: ChildProcess
  readonly output: () => string
  /** Resolves with the exit code (or -1 for a signal). */
  readonly exited: Promise<number>
  readonly stop: () => Promise<number>
}

export const startServerProcess = (options: {
  readonly port: number
  readonly env: Readonly<Record<string, string>>
  readonly args?: ReadonlyArray<string>
  readonly cwd?: string
}): ServerProcess => {
  const child = spawn(process.execPath, [...(options.args ?? serverArgs())], {
    cwd: options.cwd ?? ROOT,
    env: embeddedEnv({ ...options.env, PORT: String(options.port), HOST: "127.0.0.1" }),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true // its own process group, so a failed test can kill what it started
  })
  let output = ""
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
  const exited = new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? -1)))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM")
      const killer = setTimeout(() => child.pid !== undefined && process.kill(-child.pid, "SIGKILL"), 20_000)
      const code = await exited
      clearTimeout(killer)
      return code
    }
    return exited
  }
  return { url: `http://127.0.0.1:${options.port}`, child, output: () => output, exited, stop }
}

/** Polls `path` until it answers `status` (or the process exits, or time runs out). */
export const waitForStatus = async (server: ServerProcess, urlPath: string, status: number, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs
  let last = "no answer"
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`server exited (${server.child.exitCode}) while waiting for ${urlPath}\n${server.output()}`)
    try {
      const response = await fetch(`${server.url}${urlPath}`, { signal: AbortSignal.timeout(2_000) })
      last = `${response.status} ${await response.text()}`
      if (response.status === status) return JSON.parse(last.slice(4)) as unknown
    } catch (error) {
      last = String(error)
    }
    await sleep(150)
  }
  throw new Error(`${urlPath} did not answer ${status} within ${timeoutMs} ms (last: ${last})\n${server.output()}`)
}

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** `tsx src/main.ts …` (what `npm run cli` and `npm run migrate` run), with the given environment. */
export const runCommand = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>): Promise<CliResult> =>
  new Promise((resolve) => {
    execFile(path.join(ROOT, "node_modules", ".bin", "tsx"), ["src/main.ts", ...args], {
      cwd: ROOT,
      env: embeddedEnv(env),
      timeout: 120_000
    }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
      resolve({ code, stdout, stderr })
    })
  })

/** `npm run cli -- …` */
export const runCli = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>) => runCommand(["cli", ...args], env)

export interface LogLine {
  readonly message: unknown
  readonly logLevel: string
  readonly annotations?: Record<string, unknown>
}

/** The JSON log lines of a process's output (npm's banner and other text skipped). */
export const logLines = (output: string): ReadonlyArray<LogLine> =>
  output.split("\n").flatMap((line) => {
    if (!line.startsWith("{")) return []
    try {
      const parsed: LogLine = JSON.parse(line)
      return typeof parsed.logLevel === "string" ? [parsed] : []
    } catch {
      return []
    }
  })

/** Messages that say nothing: `[]`, `""`, whitespace, or arrays of those. */
export const isEmptyMessage = (message: unknown): boolean =>
  message === undefined || message === null ||
  (typeof message === "string" && message.trim() === "") ||
  (Array.isArray(message) && message.every(isEmptyMessage))
