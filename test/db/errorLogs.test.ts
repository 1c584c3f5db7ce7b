/**
 * Issue 19: when the embedded PostgreSQL cannot start, the server says so once, in words, with
 * what to do, keeps serving (`/health` degraded with the same reason), and no ERROR line it
 * prints has an empty `message` — neither there, nor with a DATABASE_URL nobody answers.
 */
import { afterEach, describe, expect, it } from "vitest"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { sleep } from "../support/helpers.js"
import { freePort, isEmptyMessage, logLines, type ServerProcess, startServerProcess, waitForStatus } from "./support/processes.js"

interface Health {
  readonly status: string
  readonly database: { readonly reachable: boolean; readonly reason?: string }
}

const dirs: Array<string> = []
const servers: Array<ServerProcess> = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()))
  await Promise.all(dirs.splice(0).map((dir) => fs.rm(dir, { recursive: true, force: true })))
})

const tempDir = async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "machpay-error-logs-"))
  await fs.chmod(dir, 0o755)
  dirs.push(dir)
  return dir
}

describe("failures in the log", { timeout: 90_000 }, () => {
  it("an embedded PostgreSQL that cannot start: one ERROR line that says why and what to do; /health says the same", async () => {
    const dir = await tempDir()
    const dataDir = path.join(dir, "data")
    await fs.mkdir(dataDir)
    await fs.writeFile(path.join(dataDir, "postgres"), "not a directory") // where the data directory should be
    const server = startServerProcess({ port: await freePort(), env: { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()) } })
    servers.push(server)

    const health = (await waitForStatus(server, "/health", 200)) as Health
    expect(health.status).toBe("degraded")
    expect(health.database.reachable).toBe(false)
    expect(health.database.reason).toMatch(/^embedded PostgreSQL could not start in .*: .+\. To fix: set DATABASE_URL/)
    await waitForStatus(server, "/health/ready", 503)
    await sleep(1_500) // what a retry loop would have printed by now

    const errors = logLines(server.output()).filter((line) => line.logLevel === "ERROR")
    expect(errors.filter((line) => isEmptyMessage(line.message)), server.output()).toEqual([])
    expect(errors.map((line) => line.message)).toEqual([health.database.reason])
  })

  it("a DATABASE_URL nobody answers: no ERROR line without a message", async () => {
    const dir = await tempDir()
    const server = startServerProcess({
      port: await freePort(),
      env: { DATA_DIR: path.join(dir, "data"), DATABASE_URL: `postgres://nobody@127.0.0.1:${await freePort()}/nothing` }
    })
    servers.push(server)
    const health = (await waitForStatus(server, "/health", 200)) as Health
    expect(health.status).toBe("degraded")
    expect(health.database.reason).toMatch(/ECONNREFUSED/)
    await sleep(1_500)
    const lines = logLines(server.output())
    expect(lines.length).toBeGreaterThan(0)
    expect(lines.filter((line) => isEmptyMessage(line.message)), server.output()).toEqual([])
  })
})
