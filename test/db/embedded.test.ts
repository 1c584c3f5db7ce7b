/**
 * The embedded PostgreSQL default: first start initialises a data directory, later starts
 * reuse it (data persists), stop is clean; a command uses a live owner's server and leaves it
 * running, a second server is refused; and a server orphaned by a killed owner (its
 * postmaster still holding the directory) is stopped and replaced on the next start.
 */
import { describe, expect, it } from "vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { EmbeddedInUseError, startServer } from "../../src/db/embedded/postgresProcess.js"
import { queryOnce as query } from "../support/database.js"
import { freePort, ROOT } from "./support/processes.js"

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const withDir = async (run: (dataDir: string) => Promise<void>) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "machpay-embedded-test-"))
  await fs.chmod(dir, 0o755)
  try {
    await run(path.join(dir, "data"))
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
}

/** Starts the embedded server in another process, then SIGKILLs that process: the postmaster survives it. */
const orphan = (dataDir: string, port: number) =>
  new Promise<number>((resolve, reject) => {
    // One node process (tsx as a loader, not its CLI wrapper), so SIGKILL hits the owner itself.
    const child = spawn(process.execPath, ["--import", "tsx", "test/db/support/holdEmbedded.ts", dataDir, String(port)], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"]
    })
    child.stdout.on("data", (chunk: Buffer) => {
      const match = /ready (\d+)/.exec(chunk.toString("utf8"))
      if (!match) return
      child.once("exit", () => resolve(Number(match[1])))
      child.kill("SIGKILL") // the postmaster, in its own process group, lives on

    })
    child.once("error", reject)
  })

describe("embedded PostgreSQL", { timeout: 90_000 }, () => {
  it("initialises once, keeps data across restarts, stops cleanly", () =>
    withDir(async (dataDir) => {
      const first = await startServer({ dataDir, port: await freePort() })
      expect(first.initialised).toBe(true)
      await query(first.url, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
      await first.stop()
      await expect(query(first.url, "SELECT 1")).rejects.toThrow()
      await expect(fs.stat(`${dataDir}.owner.json`)).rejects.toThrow() // released on stop

      const second = await startServer({ dataDir, port: await freePort() })
      expect(second.initialised).toBe(false)
      expect(await query(second.url, "SELECT n FROM kept")).toEqual([{ n: 42 }])
      await second.stop()
    }))

  it("lets a command use a live server's PostgreSQL and leave it running; refuses a second server", () =>
    withDir(async (dataDir) => {
      const server = await startServer({ dataDir, port: await freePort() })
      try {
        const command = await startServer({ dataDir, port: await freePort(), role: "command" })
        expect(command.attached).toBe(true)
        expect(command.url).toBe(server.url)
        expect(await query(command.url, "SELECT 1 AS one")).toEqual([{ one: 1 }])
        await command.stop()
        expect(await query(server.url, "SELECT 1 AS one")).toEqual([{ one: 1 }]) // still running

        const refused = startServer({ dataDir, port: await freePort() })
        await expect(refused).rejects.toBeInstanceOf(EmbeddedInUseError)
        await expect(refused).rejects.toThrow(/another server \(process \d+\) is running on this DATA_DIR/)
        expect(await query(server.url, "SELECT 1 AS one")).toEqual([{ one: 1 }])
      } finally {
        await server.stop()
      }
    }))

  it("lets a server and a command start at the same moment: one of them waits, neither breaks the other", () =>
    withDir(async (dataDir) => {
      const [server, command] = await Promise.all([
        startServer({ dataDir, port: await freePort() }),
        // The command finishes at once: if it won the claim, the server waited for it.
        startServer({ dataDir, port: await freePort(), role: "command" }).then(async (command) => {
          await query(command.url, "SELECT 1")
          await command.stop()
          return command
        })
      ])
      try {
        if (command.attached) expect(command.url).toBe(server.url)
        expect(await query(server.url, "SELECT 1 AS one")).toEqual([{ one: 1 }])
      } finally {
        await server.stop()
      }
    }))

  it("replaces the orphaned postmaster of a killed owner, for a server and for a command", () =>
    withDir(async (dataDir) => {
      const port = await freePort()
      const first = await startServer({ dataDir, port })
      await query(first.url, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
      await first.stop()

      const orphaned = await orphan(dataDir, port)
      expect(alive(orphaned)).toBe(true)
      const server = await startServer({ dataDir, port: await freePort() })
      expect(server.recoveredPid).toBe(orphaned)
      expect(alive(orphaned)).toBe(false)
      expect(await query(server.url, "SELECT n FROM kept")).toEqual([{ n: 7 }])
      await server.stop()

      const again = await orphan(dataDir, port)
      const command = await startServer({ dataDir, port: await freePort(), role: "command" })
      expect(command.attached).toBe(false) // its owner is dead: the command runs its own
      expect(command.recoveredPid).toBe(again)
      expect(await query(command.url, "SELECT n FROM kept")).toEqual([{ n: 7 }])
      await command.stop()
    }))
})
