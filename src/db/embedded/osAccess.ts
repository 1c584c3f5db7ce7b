/**
 * Which OS user runs PostgreSQL, and what that user can reach. PostgreSQL refuses to run as
 * root, so as root we run it as `postgres`; a checkout that only root can enter (a clone
 * under /root, any `mktemp -d` directory) is then closed to the server's own processes.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs/promises"
import * as path from "node:path"

export interface OsUser {
  readonly uid: number
  readonly gid: number
}

export const run = (file: string, args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(" ")} failed: ${stderr || error.message}`))
      else resolve(stdout)
    })
  })

/** `undefined` when we are not root (PostgreSQL then runs as us); else `postgres`, created if missing. */
export const serverUser = async (): Promise<OsUser | undefined> => {
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

/** Can `user` walk down every directory above `target`? (Its own mode is the caller's business.) */
export const traversable = async (target: string, user: OsUser): Promise<boolean> => {
  for (let current = path.dirname(path.resolve(target)); ; current = path.dirname(current)) {
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

export const chownTree = async (dir: string, user: OsUser): Promise<void> => {
  await fs.chown(dir, user.uid, user.gid)
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) await chownTree(full, user)
    else await fs.chown(full, user.uid, user.gid)
  }
}

/**
 * Where, as root, what `postgres` must reach goes when the checkout is closed to it: the
 * relocated data directories and the copied binaries (docs/embedded-postgres.md).
 */
export const DEFAULT_RUNTIME_DIR = "/var/lib/machpay-telemetry"
