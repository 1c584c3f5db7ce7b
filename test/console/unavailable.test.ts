/**
 * The database away: console endpoints answer 503 with a JSON body and `Retry-After` (never
 * an empty 500), and the cause is logged. The server's pool points at a port nobody listens on.
 */
import { PgClient } from "@effect/sql-pg"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
import pg from "pg"
import { consoleServerOn, send, token } from "./support.js"

const logged: Array<string> = []
const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ logLevel, message, cause }) => {
  logged.push(`${logLevel.label} ${String(message)} ${cause._tag}`)
}))

const unreachable = Layer.unwrapScoped(Effect.map(
  Effect.acquireRelease(
    Effect.sync(() => {
      const pool = new pg.Pool({ host: "127.0.0.1", port: 1, user: "postgres", database: "postgres", connectionTimeoutMillis: 500 })
      pool.on("error", () => undefined)
      return pool
    }),
    (pool) => Effect.promise(() => pool.end())
  ),
  (pool) => PgClient.layerFromPool({ acquire: Effect.succeed(pool) })
))

layer(consoleServerOn(unreachable).pipe(Layer.provide(capture)), { excludeTestServices: true })("database away", (it) => {
  it.effect("every console endpoint answers 503 + Retry-After with a JSON body, and logs why", () =>
    Effect.gen(function*() {
      const vendor = token({ role: "vendor", vendorId: "v" })
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["/v1/vendor/stats", vendor],
        ["/v1/vendor/revenue-history", vendor],
        ["/v1/vendor/consumers", vendor],
        ["/v1/vendor/metrics", vendor],
        ["/v1/vendor/payments", vendor],
        ["/v1/vendor/alerts", vendor],
        ["/v1/vendor/rejections", vendor],
        ["/v1/vendor/endpoints", vendor],
        ["/v1/vendor/stats?gateway_id=gw-1", vendor],
        ["/v1/agent/activity", token({ role: "agent", agentId: "a" })],
        ["/v1/agent/spending", token({ role: "agent", agentId: "a" })],
        ["/v1/admin/gateways", token({ role: "admin", subject: "ops" })]
      ]
      for (const [url, bearer] of cases) {
        const response = yield* send("GET", url, { bearer })
        expect(response.status, url).toBe(503)
        expect(response.headers["retry-after"], url).toBe("5")
        expect(response.body, url).toMatchObject({ _tag: "Unavailable", message: expect.stringContaining("database") })
      }
      expect(logged.some((line) => line.startsWith("WARN console: database unavailable") && !line.endsWith("Empty"))).toBe(true)
      expect(logged.some((line) => line.startsWith("WARN console: GET /v1/vendor/stats answered 503"))).toBe(true)
    }))
})
