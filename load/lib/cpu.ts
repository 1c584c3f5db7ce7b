/**
 * CPU time from `/proc` (Linux), so a benchmark can say what one event costs the receiver and
 * PostgreSQL, and what that cost allows on this machine's cores. PostgreSQL's time is the sum
 * over its processes plus what the postmaster has collected from exited children (backends of
 * closed connections), so nothing that ran in the window is lost.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"

const ticksPerSecond = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()

interface Stat {
  readonly comm: string
  readonly ppid: number
  /** utime + stime, seconds. */
  readonly own: number
  /** cutime + cstime (reaped children), seconds. */
  readonly children: number
}

const statOf = (pid: number | string): Stat | undefined => {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const comm = text.slice(text.indexOf("(") + 1, text.lastIndexOf(")"))
    // Fields after the command: state ppid … utime(14) stime(15) cutime(16) cstime(17), 1-based overall.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
    const at = (n: number) => Number(fields[n - 3])
    return { comm, ppid: at(4), own: (at(14) + at(15)) / ticksPerSecond, children: (at(16) + at(17)) / ticksPerSecond }
  } catch {
    return undefined
  }
}

/** CPU seconds one process has used so far (NaN when it is gone or not on Linux). */
export const processCpuSeconds = (pid: number | undefined): number =>
  pid === undefined ? Number.NaN : statOf(pid)?.own ?? Number.NaN

/** CPU seconds all PostgreSQL processes of this machine have used so far, exited backends included. */
export const postgresCpuSeconds = (): number => {
  let pids: Array<string>
  try {
    pids = fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))
  } catch {
    return Number.NaN
  }
  const stats = new Map<string, Stat>()
  for (const pid of pids) {
    const stat = statOf(pid)
    if (stat?.comm === "postgres") stats.set(pid, stat)
  }
  let total = 0
  for (const stat of stats.values()) {
    total += stat.own
    // A postmaster (its parent is not PostgreSQL) has collected its exited backends' time.
    if (!stats.has(String(stat.ppid))) total += stat.children
  }
  return total
}

/** This process's own CPU seconds (the load generator). */
export const ownCpuSeconds = (): number => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1e6
}

export interface CpuSample {
  readonly at: number
  readonly server: number
  readonly postgres: number
  readonly generator: number
}

export const sampleCpu = (serverPid: number | undefined): CpuSample => ({
  at: performance.now(),
  server: processCpuSeconds(serverPid),
  postgres: postgresCpuSeconds(),
  generator: ownCpuSeconds()
})
