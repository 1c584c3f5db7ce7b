/**
 * The README's quick start, with the server running: `npm start` on its embedded PostgreSQL,
 * then each CLI line in another "terminal". The CLI must use the server's PostgreSQL and
 * leave it running (issue 14), and so must `npm run migrate`: the gateway it creates ingests, the token it mints reads the
 * payment back, and `/health` stays ok all along. A second server on the same DATA_DIR is
 * refused with a message that says why.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import {
  freePort,
  isEmptyMessage,
  logLines,
  runCli,
  runCommand,
  type ServerProcess,
  startServerProcess,
  waitForStatus
} from "./support/processes.js"

describe("the CLI beside a running server on the embedded PostgreSQL", { timeout: 180_000 }, () => {
  let dir = ""
  let env: Record<string, string> = {}
  let server: ServerProcess | undefined
  const healthSeen: Array<string> = []
  let watching = true
  let watcher: Promise<void> = Promise.resolve()

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "machpay-cli-beside-"))
    await fs.chmod(dir, 0o755) // as root, keep the data where the test can clean it up
    env = { DATA_DIR: path.join(dir, "data"), EMBEDDED_PG_PORT: String(await freePort()), INGEST_BATCH_WINDOW: "50 millis" }
    server = startServerProcess({ port: await freePort(), env })
    await waitForStatus(server, "/health/ready", 200)
    // Ready (migrated) comes a moment before ok: the live feed counts as listening only once
    // receivers have seen it (src/realtime/Presence.ts). From ok on, it must stay ok.
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      const reply = await fetch(`${server.url}/health`).then((r) => r.json() as Promise<{ status: string }>, () => ({ status: "down" }))
      if (reply.status === "ok") break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const running = server
    // /health is sampled all the time the CLI runs, not only before and after.
    watcher = (async () => {
      while (watching) {
        const reply = await fetch(`${running.url}/health`).then((r) => r.json() as Promise<{ status: string }>, (e) => ({ status: String(e) }))
        healthSeen.push(reply.status)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    })()
  }, 120_000)

  afterAll(async () => {
    watching = false
    await watcher
    await server?.stop()
    if (dir) await fs.rm(dir, { recursive: true, force: true })
  })

  it("runs every quick-start command, ingests with the key, reads back with the token, and /health stays ok", async () => {
    const running = server!
    const vendor = await runCli(["vendor", "create", "--id", "acme", "--name", "Acme APIs"], env)
    expect(vendor.stderr).not.toMatch(/stale/)
    expect(vendor, vendor.stderr).toMatchObject({ code: 0 })

    const gateway = await runCli(["gateway", "create", "--vendor", "acme", "--id", "gw-eu-1", "--name", "EU edge"], env)
    expect(gateway, gateway.stderr).toMatchObject({ code: 0 })
    const key = /ingest key:\s+(\S+)/.exec(gateway.stdout)?.[1]
    expect(key).toMatch(/^mpk_/)

    const token = await runCli(["token", "mint", "--role", "vendor", "--vendor", "acme"], env)
    expect(token, token.stderr).toMatchObject({ code: 0 })
    const jwt = token.stdout.trim().split("\n").at(-1) ?? ""
    expect(jwt.split(".")).toHaveLength(3)

    const ingest = await fetch(`${running.url}/v1/ingest`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/cloudevents+json", prefer: "wait=commit" },
      body: JSON.stringify({
        specversion: "1.0",
        id: "evt-1",
        source: "machpay://gateway/gw-eu-1",
        type: "PaymentAuthorized",
        time: new Date().toISOString(),
        data: {
          gateway_id: "gw-eu-1",
          payment_id: "pay-1",
          request_id: "req-1",
          agent_id: "agent-7",
          method: "GET",
          route: "/v1/weather/{city}",
          amount: "0.25",
          asset: "USDC",
          network: "base"
        }
      })
    })
    expect(ingest.status, await ingest.clone().text()).toBe(200)

    const payments = await fetch(`${running.url}/v1/vendor/payments`, { headers: { authorization: `Bearer ${jwt}` } })
    expect(payments.status).toBe(200)
    const body = (await payments.json()) as { items: ReadonlyArray<{ payment_id?: string }> }
    expect(body.items.map((item) => item.payment_id)).toContain("pay-1")

    const migrate = await runCommand(["migrate"], env)
    expect(migrate, migrate.stdout + migrate.stderr).toMatchObject({ code: 0 })
    expect(migrate.stdout).toMatch(/using the embedded PostgreSQL of the running server/)

    const health = (await waitForStatus(running, "/health", 200)) as { status: string }
    expect(health.status).toBe("ok")
    expect(healthSeen.length).toBeGreaterThan(5)
    expect(healthSeen.filter((status) => status !== "ok")).toEqual([])
    expect(running.output()).not.toMatch(/stale embedded PostgreSQL/)
  })

  it("refuses a second server on the same DATA_DIR with a clear message, and the first keeps serving", async () => {
    const second = startServerProcess({ port: await freePort(), env: { ...env, EMBEDDED_PG_PORT: String(await freePort()) } })
    const code = await Promise.race([second.exited, new Promise<number>((r) => setTimeout(() => r(-99), 60_000))])
    if (code === -99) await second.stop()
    expect(code, second.output()).toBe(1)
    const errors = logLines(second.output()).filter((line) => line.logLevel === "ERROR")
    expect(errors.length, second.output()).toBeGreaterThan(0)
    expect(errors.filter((line) => isEmptyMessage(line.message))).toEqual([])
    expect(String(errors[0]?.message)).toMatch(/another server \(process \d+\) is running on this DATA_DIR/)
    expect(String(errors[0]?.message)).toMatch(/give this one its own DATA_DIR/)
    expect(((await waitForStatus(server!, "/health", 200)) as { status: string }).status).toBe("ok")
  })
})
