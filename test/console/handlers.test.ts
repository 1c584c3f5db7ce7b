/**
 * The console's HttpApi handlers in process over `Layer.mock` repositories — no database:
 * what each handler asks its repository for (the caller's tenant, the resolved range, the
 * cursor it was handed), what it answers (exact decimal strings, pages and their cursors), and
 * how a repository failure is answered (unreachable database → 503 + Retry-After; any other
 * SQL error → 500 with a JSON body).
 */
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel } from "effect"
import type { Rejection, VendorStats } from "../../schema/api/ConsoleVendor.js"
import { AgentRepo } from "../../src/console/AgentRepo.js"
import { ConsumersRepo } from "../../src/console/ConsumersRepo.js"
import { EndpointsRepo } from "../../src/console/EndpointsRepo.js"
import { dbFailure } from "../../src/console/Failures.js"
import { GatewayHealthRepo } from "../../src/console/GatewayHealthRepo.js"
import { ListsRepo } from "../../src/console/ListsRepo.js"
import { MetricsRepo } from "../../src/console/MetricsRepo.js"
import type { Range } from "../../src/console/Params.js"
import { RejectionsRepo } from "../../src/console/RejectionsRepo.js"
import type { RejectionsInput } from "../../src/console/RejectionsRepo.js"
import type { VendorScope } from "../../src/console/Scope.js"
import { VendorRepo } from "../../src/console/VendorRepo.js"
import { clientFor, consoleServerWithRepos, send, token } from "./support.js"

/** Every repository unimplemented (a call dies), then the given mocks on top (the right side of a merge wins). */
const reposWith = <ROut>(mocks: Layer.Layer<ROut>) =>
  Layer.merge(Layer.mergeAll(
    Layer.mock(VendorRepo, {}),
    Layer.mock(ConsumersRepo, {}),
    Layer.mock(EndpointsRepo, {}),
    Layer.mock(ListsRepo, {}),
    Layer.mock(MetricsRepo, {}),
    Layer.mock(RejectionsRepo, {}),
    Layer.mock(AgentRepo, {}),
    Layer.mock(GatewayHealthRepo, {})
  ), mocks)

const serve = <ROut>(mocks: Layer.Layer<ROut>) =>
  consoleServerWithRepos(reposWith(mocks)).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.None)))

const vendor = token({ role: "vendor", vendorId: "v-mock" })
const agent = token({ role: "agent", agentId: "a-mock" })

/** Larger than any JS number holds exactly, and with 18 decimals. */
const HUGE = "123456789012345678901234567890.000000000000000001"

describe("console handlers over mocked repositories", () => {
  it.live("vendor stats: asks for the caller's scope over the default range, answers the sums exactly", () =>
    Effect.gen(function*() {
      const calls: Array<{ scope: VendorScope; split: Range }> = []
      const stats = Layer.mock(VendorRepo, {
        stats: (scope, split) => {
          calls.push({ scope, split })
          const result: VendorStats = {
            from: split.from,
            to: split.to,
            gateways: 2,
            payments: 3,
            revenue: [{ asset: "USDC", amount: HUGE, payments: 3 }],
            unique_agents: 1,
            blocked_requests: 0,
            requests: 10,
            errors: 1,
            error_rate: 0.1,
            latency_p99_ms: 12.5
          }
          return Effect.succeed(result)
        }
      })
      const body = yield* Effect.flatMap(clientFor(vendor), (client) => client.consoleVendor.stats({ urlParams: {} })).pipe(
        Effect.provide(serve(stats))
      )
      expect(body.revenue).toEqual([{ asset: "USDC", amount: HUGE, payments: 3 }])
      expect(body.error_rate).toBe(0.1)
      expect(calls).toHaveLength(1)
      const [call] = calls
      expect(call?.scope).toEqual({ vendorId: "v-mock", gatewayId: undefined })
      // Aggregates default to 30 UTC days, today included: from is a UTC midnight.
      expect(call?.split.from).toMatch(/T00:00:00\.000Z$/)
      expect((call?.split.toMs ?? 0) - (call?.split.fromMs ?? 0)).toBeLessThanOrEqual(30 * 86_400_000)
      expect((call?.split.toMs ?? 0) - (call?.split.fromMs ?? 0)).toBeGreaterThan(29 * 86_400_000)
    }))

  it.live("vendor stats for a gateway that is not the caller's: 404, and the stats query never runs", () =>
    Effect.gen(function*() {
      const owned: Array<readonly [string, string]> = []
      let statsCalls = 0
      const repo = Layer.mock(VendorRepo, {
        ownsGateway: (vendorId, gatewayId) => {
          owned.push([vendorId, gatewayId])
          return Effect.succeed(false)
        },
        stats: () => {
          statsCalls++
          return Effect.die("must not be called")
        }
      })
      const response = yield* send("GET", "/v1/vendor/stats?gateway_id=gw-other", { bearer: vendor }).pipe(
        Effect.provide(serve(repo))
      )
      expect(response.status).toBe(404)
      expect(response.body).toMatchObject({ _tag: "NotFound", message: "gateway gw-other not found" })
      expect(owned).toEqual([["v-mock", "gw-other"]])
      expect(statsCalls).toBe(0)
    }))

  it.live("agent spending: the token's agent, the requested grouping and limit; totals exact", () =>
    Effect.gen(function*() {
      const calls: Array<readonly [string, string, number]> = []
      const repo = Layer.mock(AgentRepo, {
        spending: (agentId, _range, groupBy, limit) => {
          calls.push([agentId, groupBy, limit])
          return Effect.succeed({
            items: [{
              vendor_id: "v1",
              vendor_name: "Vendor 1",
              gateway_id: "gw-1",
              method: null,
              route: null,
              asset: "USDC",
              amount: HUGE,
              payments: 2
            }],
            totals: [{ asset: "USDC", amount: HUGE, payments: 2 }],
            truncated: true
          })
        }
      })
      const body = yield* Effect.flatMap(
        clientFor(agent),
        (client) => client.consoleAgent.spending({ urlParams: { group_by: "gateway", limit: 5 } })
      ).pipe(Effect.provide(serve(repo)))
      expect(calls).toEqual([["a-mock", "gateway", 5]])
      expect(body.group_by).toBe("gateway")
      expect(body.truncated).toBe(true)
      expect(body.totals).toEqual([{ asset: "USDC", amount: HUGE, payments: 2 }])
      expect(body.items[0]?.amount).toBe(HUGE)
    }))

  it.live("rejections: a full page gets a cursor, and following it hands the repository the last row's keys", () =>
    Effect.gen(function*() {
      const inputs: Array<RejectionsInput> = []
      const rejection = (i: number): Rejection => ({
        received_at: `2030-01-01T00:00:0${9 - i}Z`,
        gateway_id: "gw-1",
        type: "PaymentAuthorized",
        reason: `bad amount ${i}`,
        field: "data.amount",
        event_id: `e${i}`,
        source: "gw-1",
        payload_bytes: 100 + i
      })
      const repo = Layer.mock(RejectionsRepo, {
        rejections: (input) => {
          inputs.push(input)
          // The repository returns up to limit + 1 rows; the extra one says "there is more".
          const rows = input.after === undefined ? [0, 1, 2] : [2]
          return Effect.succeed(rows.map((i) => ({ rejection: rejection(i), id: String(100 - i) })))
        }
      })
      const [first, second] = yield* Effect.gen(function*() {
        const client = yield* clientFor(vendor)
        const urlParams = { from: "2029-12-31T00:00:00Z", to: "2030-01-02T00:00:00Z", limit: 2 }
        const first = yield* client.consoleVendor.rejections({ urlParams })
        const second = yield* client.consoleVendor.rejections({ urlParams: { ...urlParams, cursor: first.next_cursor ?? "" } })
        return [first, second] as const
      }).pipe(Effect.provide(serve(repo)))
      expect(first.items).toEqual([rejection(0), rejection(1)])
      expect(first.next_cursor).not.toBeNull()
      expect(second.items).toEqual([rejection(2)])
      expect(second.next_cursor).toBeNull()
      expect(inputs.map((i) => [i.scope, i.limit, i.after])).toEqual([
        [{ vendorId: "v-mock", gatewayId: undefined }, 2, undefined],
        [{ vendorId: "v-mock", gatewayId: undefined }, 2, [rejection(1).received_at, "99"]]
      ])
      expect(inputs[0]?.range).toMatchObject({ from: "2029-12-31T00:00:00.000Z", to: "2030-01-02T00:00:00.000Z" })
    }))

  it.live("a repository whose database is unreachable: 503 with a JSON body and Retry-After", () =>
    Effect.gen(function*() {
      const refused = new SqlError({ cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }), message: "query failed" })
      const repo = Layer.mock(VendorRepo, { stats: () => dbFailure(Effect.fail(refused)) })
      const response = yield* send("GET", "/v1/vendor/stats", { bearer: vendor }).pipe(Effect.provide(serve(repo)))
      expect(response.status).toBe(503)
      expect(response.headers["retry-after"]).toBe("5")
      expect(response.body).toEqual({ _tag: "Unavailable", message: "the database is unavailable; retry shortly" })
    }))

  it.live("a statement the database refused is a bug: 500 with a JSON body, not a 503", () =>
    Effect.gen(function*() {
      const syntax = new SqlError({ cause: Object.assign(new Error("syntax error"), { code: "42601" }), message: "query failed" })
      const repo = Layer.mock(AgentRepo, { spending: () => dbFailure(Effect.fail(syntax)) })
      const response = yield* send("GET", "/v1/agent/spending", { bearer: agent }).pipe(Effect.provide(serve(repo)))
      expect(response.status).toBe(500)
      expect(response.headers["retry-after"]).toBeUndefined()
      expect(response.body).toEqual({ _tag: "InternalError", message: "internal error; it has been logged" })
    }))

  it.live("bad parameters are 400s before any repository is asked", () =>
    Effect.gen(function*() {
      // Every repository is unimplemented here: a call would die and answer 500.
      const response = yield* send("GET", "/v1/vendor/payments?min_amount=5&max_amount=1", { bearer: vendor }).pipe(
        Effect.provide(serve(Layer.empty))
      )
      expect(response.status).toBe(400)
      expect(response.body).toMatchObject({ issues: [{ path: ["max_amount"] }] })
    }))
})
