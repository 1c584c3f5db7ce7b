/**
 * Who owns the embedded PostgreSQL of a data directory: the Node process that started it.
 *
 * The owner record is a small JSON file beside the requested data directory
 * (`DATA_DIR/postgres.owner.json`, also when root relocates the data itself),
 * created with O_EXCL, so exactly one process at a time may start, stop or replace that
 * PostgreSQL. It names the owner (pid, role) and, once running, its postmaster and port.
 * Other processes read it to decide:
 *   - owner alive and a server with its PostgreSQL up → a one-shot command (CLI, migrate)
 *     connects to it and leaves it running; a second server refuses to start;
 *   - owner alive but still starting, or a one-shot command that started its own → wait;
 *   - owner dead (killed) → the record is stale: remove it, claim, and stop its orphaned
 *     postmaster (PostgreSQL's own postmaster.pid would keep us out otherwise).
 *
 * A pid alone can be reused (a container restarts with the same pids), so on Linux a record
 * also keeps each process's boot id + start time; a live pid with another start time is not
 * the owner.
 */
import { readFileSync } from "node:fs"
import * as fs from "node:fs/promises"

export type OwnerRole = "server" | "command"

export interface OwnerRecord {
  readonly pid: number
  readonly startId: string | null
  readonly role: OwnerRole
  readonly port: number
  /** Null while the owner is still starting PostgreSQL. */
  readonly postmasterPid: number | null
  readonly postmasterStartId: string | null
  readonly since: string
}

export const ownerFile = (dataDir: string): string => `${dataDir}.owner.json`

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

let bootId: string | undefined | null = null

/** Boot id + start time (clock ticks since boot) of a process; undefined where /proc is missing. */
export const processStartId = (pid: number): string | undefined => {
  try {
    if (bootId === null) bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the command name (which may hold spaces) start at field 3; start time is field 22.
    const startTime = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]
    return startTime === undefined ? undefined : `${bootId}:${startTime}`
  } catch {
    return undefined
  }
}

const sameProcess = (pid: number | null, startId: string | null): boolean => {
  if (pid === null || !isAlive(pid)) return false
  if (startId === null) return true
  const now = processStartId(pid)
  return now === undefined || now === startId
}

export const ownerAlive = (record: OwnerRecord): boolean => sameProcess(record.pid, record.startId)

export const postmasterRunning = (record: OwnerRecord): boolean =>
  sameProcess(record.postmasterPid, record.postmasterStartId)

const parse = (text: string): OwnerRecord | undefined => {
  try {
    const value: Partial<OwnerRecord> = JSON.parse(text)
    return typeof value.pid === "number" && typeof value.port === "number" && (value.role === "server" || value.role === "command")
      ? (value as OwnerRecord)
      : undefined
  } catch {
    return undefined
  }
}

export const readOwner = async (dataDir: string): Promise<OwnerRecord | undefined> => {
  const text = await fs.readFile(ownerFile(dataDir), "utf8").catch(() => undefined)
  return text === undefined ? undefined : parse(text)
}

/**
 * Removes a stale record only if it is still the one we judged stale: moved aside first, so
 * a record another process claimed in between is put back, not deleted.
 */
const removeIfUnchanged = async (file: string, seen: string): Promise<void> => {
  const aside = `${file}.${process.pid}.stale`
  try {
    await fs.rename(file, aside)
  } catch {
    return // already gone
  }
  const moved = await fs.readFile(aside, "utf8").catch(() => seen)
  if (moved !== seen) await fs.link(aside, file).catch(() => undefined)
  await fs.rm(aside, { force: true })
}

export interface Claimed {
  readonly _tag: "Claimed"
  /** Records the running postmaster, so others can connect to it and tell it from an orphan. */
  readonly running: (postmasterPid: number) => Promise<void>
  /** Deletes the record if it is still ours. */
  readonly release: () => Promise<void>
}

export interface Held {
  readonly _tag: "Held"
  readonly record: OwnerRecord
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** How long an unreadable record may be a claim still being written (O_EXCL create, then write). */
const TORN_RECORD_GRACE_MS = 5_000

/**
 * Claims `dataDir`, or reports the live owner that holds it: at once when that owner is a
 * server with PostgreSQL up, after `waitMs` when it is still starting or is a one-shot command.
 */
export const claimOwnership = async (
  dataDir: string,
  options: { readonly role: OwnerRole; readonly port: number; readonly waitMs: number }
): Promise<Claimed | Held> => {
  const file = ownerFile(dataDir)
  const deadline = Date.now() + options.waitMs
  const mine: OwnerRecord = {
    pid: process.pid,
    startId: processStartId(process.pid) ?? null,
    role: options.role,
    port: options.port,
    postmasterPid: null,
    postmasterStartId: null,
    since: new Date().toISOString()
  }
  for (;;) {
    try {
      await fs.writeFile(file, JSON.stringify(mine), { flag: "wx", mode: 0o644 })
      return claimed(file, mine)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
    }
    const seen = await fs.readFile(file, "utf8").catch(() => undefined)
    if (seen === undefined) continue // released in between
    const other = parse(seen)
    if (other === undefined) {
      const age = Date.now() - ((await fs.stat(file).catch(() => undefined))?.mtimeMs ?? 0)
      if (age > TORN_RECORD_GRACE_MS) await removeIfUnchanged(file, seen)
      else await sleep(100)
      continue
    }
    if (!ownerAlive(other)) {
      await removeIfUnchanged(file, seen)
      continue
    }
    const settled = other.role === "server" && other.postmasterPid !== null
    if (settled || Date.now() >= deadline) return { _tag: "Held", record: other }
    await sleep(100)
  }
}

const claimed = (file: string, mine: OwnerRecord): Claimed => {
  let current = mine
  return {
    _tag: "Claimed",
    running: async (postmasterPid) => {
      current = { ...current, postmasterPid, postmasterStartId: processStartId(postmasterPid) ?? null }
      const temporary = `${file}.${process.pid}.tmp`
      await fs.writeFile(temporary, JSON.stringify(current), { mode: 0o644 })
      await fs.rename(temporary, file)
    },
    release: async () => {
      const now = await fs.readFile(file, "utf8").catch(() => undefined)
      const record = now === undefined ? undefined : parse(now)
      if (record?.pid === current.pid && record.since === current.since) await fs.rm(file, { force: true })
    }
  }
}
