/**
 * The embedded PostgreSQL default: first start initialises a data directory, later starts
 * reuse it (data persists), stop is clean, and a server orphaned by a killed process (its
 * postmaster still holding the directory) is stopped and replaced on the next start.
 */
import { describe, expect, it } from "vitest"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { startServer } from "../../src/db/embedded/postgresProcess.js"

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))))
    })
  })

const query = async (url: string, text: string) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(text)).rows
  } finally {
    await client.end()
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("embedded PostgreSQL", { timeout: 60_000 }, () => {
  it("initialises once, keeps data across restarts, stops cleanly, and replaces a stale server", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "machpay-embedded-test-"))
    await fs.chmod(dir, 0o755)
    const dataDir = path.join(dir, "data")
    try {
      const first = await startServer({ dataDir, port: await freePort() })
      expect(first.initialised).toBe(true)
      await query(first.url, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
      await first.stop()
      await expect(query(first.url, "SELECT 1")).rejects.toThrow()

      const second = await startServer({ dataDir, port: await freePort() })
      expect(second.initialised).toBe(false)
      expect(await query(second.url, "SELECT n FROM kept")).toEqual([{ n: 42 }])
      const pidFile = await fs.readFile(path.join(second.dataDir, "postmaster.pid"), "utf8")
      const orphan = Number(pidFile.split("\n")[0])
      expect(alive(orphan)).toBe(true)

      // As after a SIGKILL of its owner: the postmaster still runs; a new start must recover.
      const third = await startServer({ dataDir, port: await freePort() })
      expect(third.recoveredPid).toBe(orphan)
      expect(alive(orphan)).toBe(false)
      expect(await query(third.url, "SELECT n FROM kept")).toEqual([{ n: 42 }])
      await third.stop()
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })
})
