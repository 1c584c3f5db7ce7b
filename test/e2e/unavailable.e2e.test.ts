/**
 * Finding 9 against the started server with a database nobody answers: every 503 says when to
 * come back (Retry-After), the console's included, and the public /health shows no driver text.
 */
import { afterAll, describe, expect, it } from "vitest"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { claimsFor } from "../../src/identity/Jwt.js"
import { signHs256 } from "../../testkit/jwt.js"
import { freePort, type ServerProcess, startServerProcess, waitForStatus } from "../db/support/processes.js"

const SECRET = "unavailable-e2e-secret-unavailable-e2e-secret"
const cleanup: Array<() => Promise<unknown>> = []
afterAll(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

describe("database unreachable", { timeout: 90_000 }, () => {
  it("console 503 and /health/ready 503 carry Retry-After; /health names only the error code", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "machpay-unavailable-"))
    cleanup.push(() => fs.rm(dir, { recursive: true, force: true }))
    const server: ServerProcess = startServerProcess({
      port: await freePort(),
      env: {
        DATA_DIR: dir,
        DATABASE_URL: `postgres://secret_user:hunter2@127.0.0.1:${await freePort()}/secret_db`,
        JWT_SECRET: SECRET,
        LOG_LEVEL: "Warning"
      }
    })
    cleanup.push(() => server.stop())
    const health = (await waitForStatus(server, "/health", 200)) as { database: { reason?: string } }
    expect(health.database.reason).toMatch(/ECONNREFUSED/)
    expect(JSON.stringify(health)).not.toMatch(/secret_user|hunter2|secret_db|127\.0\.0\.1/)

    const ready = await fetch(`${server.url}/health/ready`)
    expect(ready.status).toBe(503)
    expect(Number(ready.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)

    const jwt = signHs256(claimsFor({ role: "vendor", vendorId: "v1" }, { now: Date.now() / 1000, ttlSeconds: 600 }), SECRET)
    const stats = await fetch(`${server.url}/v1/vendor/stats`, { headers: { authorization: `Bearer ${jwt}` } })
    const body = await stats.text()
    expect(stats.status, body).toBe(503)
    expect(Number(stats.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
  })
})
