/**
 * What the console benchmark calls: every endpoint, with the parameters a dashboard uses,
 * for the largest vendor (the worst case) and for random vendors (the typical case).
 */
import type { PrincipalSpec } from "../../src/identity/Jwt.js"

export interface Fixtures {
  readonly vendors: ReadonlyArray<{ readonly vendorId: string; readonly gatewayId: string; readonly endpointId: string }>
  readonly agents: ReadonlyArray<string>
}

export interface Call {
  readonly principal: PrincipalSpec
  readonly path: string
  readonly method?: "GET" | "POST" | "PATCH" | "DELETE"
  readonly body?: unknown
}

export interface Sample {
  readonly ms: number
  readonly status: number
  readonly body: unknown
}

export type Execute = (call: Call) => Promise<Sample>

export interface Scenario {
  readonly name: string
  /** Runs request `i`; returns the samples to count (set-up calls are left out). */
  readonly run: (execute: Execute, i: number) => Promise<ReadonlyArray<Sample>>
}

/** Deterministic spread over a list (request i → element). */
const pick = <A>(list: ReadonlyArray<A>, i: number): A => list[(i * 7919) % list.length]!

const nextCursor = (body: unknown): string | null =>
  typeof body === "object" && body !== null && "next_cursor" in body && typeof body.next_cursor === "string"
    ? body.next_cursor
    : null

const idOf = (body: unknown): string =>
  typeof body === "object" && body !== null && "id" in body && typeof body.id === "string" ? body.id : "0"

export const scenarios = (fx: Fixtures): ReadonlyArray<Scenario> => {
  const largest = fx.vendors[0]!
  const vendor = (v: Fixtures["vendors"][number]): PrincipalSpec => ({ role: "vendor", vendorId: v.vendorId })
  const topAgent: PrincipalSpec = { role: "agent", agentId: fx.agents[0]! }
  const agent = (i: number): PrincipalSpec => ({ role: "agent", agentId: pick(fx.agents, i) })
  const admin: PrincipalSpec = { role: "admin", subject: "bench" }

  /** One GET per request, for the largest vendor and for a random one. */
  const vendorGet = (name: string, path: (v: Fixtures["vendors"][number]) => string): ReadonlyArray<Scenario> => [
    { name: `${name} [largest]`, run: async (execute) => [await execute({ principal: vendor(largest), path: path(largest) })] },
    {
      name: `${name} [random vendor]`,
      run: async (execute, i) => {
        const v = pick(fx.vendors, i)
        return [await execute({ principal: vendor(v), path: path(v) })]
      }
    }
  ]

  /** The second page: the first is fetched for its cursor, only the second is counted. */
  const secondPage = (name: string, principal: PrincipalSpec, path: string): Scenario => ({
    name,
    run: async (execute) => {
      const first = await execute({ principal, path })
      const cursor = nextCursor(first.body)
      return cursor === null ? [first] : [await execute({ principal, path: `${path}&cursor=${cursor}` })]
    }
  })

  return [
    ...vendorGet("GET vendor/stats (30 d)", () => "/v1/vendor/stats"),
    ...vendorGet("GET vendor/stats?gateway_id (30 d)", (v) => `/v1/vendor/stats?gateway_id=${v.gatewayId}`),
    ...vendorGet("GET vendor/revenue-history (day, 30 d)", () => "/v1/vendor/revenue-history"),
    ...vendorGet("GET vendor/revenue-history (hour, 48 h)", () => "/v1/vendor/revenue-history?granularity=hour"),
    ...vendorGet("GET vendor/consumers (spend, 30 d)", () => "/v1/vendor/consumers?limit=50"),
    ...vendorGet("GET vendor/consumers (last_seen)", () => "/v1/vendor/consumers?limit=50&sort=last_seen"),
    ...vendorGet("GET vendor/endpoints", () => "/v1/vendor/endpoints"),
    ...vendorGet("GET vendor/endpoints/:id", (v) => `/v1/vendor/endpoints/${v.endpointId}`),
    {
      name: "POST+PATCH+DELETE vendor/endpoints",
      run: async (execute, i) => {
        const v = pick(fx.vendors, i)
        const path = `/bench/${process.pid}/${i}/${Math.random().toString(36).slice(2)}`
        const created = await execute({
          principal: vendor(v),
          path: "/v1/vendor/endpoints",
          method: "POST",
          body: { method: "GET", path, price: "0.01", asset: "USDC", gateway_id: v.gatewayId }
        })
        const id = idOf(created.body)
        const patched = await execute({ principal: vendor(v), path: `/v1/vendor/endpoints/${id}`, method: "PATCH", body: { price: "0.02" } })
        const deleted = await execute({ principal: vendor(v), path: `/v1/vendor/endpoints/${id}`, method: "DELETE" })
        return [created, patched, deleted]
      }
    },
    ...vendorGet("GET vendor/metrics (24 h)", () => "/v1/vendor/metrics"),
    ...vendorGet("GET vendor/metrics (7 d)", () => `/v1/vendor/metrics?from=${new Date(Date.now() - 7 * 86_400_000).toISOString()}`),
    ...vendorGet("GET vendor/payments (page 1)", () => "/v1/vendor/payments?limit=50"),
    secondPage("GET vendor/payments (page 2) [largest]", vendor(largest), "/v1/vendor/payments?limit=50"),
    ...vendorGet("GET vendor/payments?agent_id", () => `/v1/vendor/payments?limit=50&agent_id=${fx.agents[0]}`),
    ...vendorGet("GET vendor/payments?min_amount", () => "/v1/vendor/payments?limit=50&min_amount=0.02"),
    ...vendorGet("GET vendor/alerts (page 1)", () => "/v1/vendor/alerts?limit=50"),
    secondPage("GET vendor/alerts (page 2) [largest]", vendor(largest), "/v1/vendor/alerts?limit=50"),
    ...vendorGet("GET vendor/alerts?kind=solvency_alert&severity", () => "/v1/vendor/alerts?kind=solvency_alert&severity=critical"),
    { name: "GET agent/activity [top agent]", run: async (execute) => [await execute({ principal: topAgent, path: "/v1/agent/activity?limit=50" })] },
    { name: "GET agent/activity [random agent]", run: async (execute, i) => [await execute({ principal: agent(i), path: "/v1/agent/activity?limit=50" })] },
    secondPage("GET agent/activity (page 2) [top agent]", topAgent, "/v1/agent/activity?limit=50"),
    { name: "GET agent/spending (vendor) [top agent]", run: async (execute) => [await execute({ principal: topAgent, path: "/v1/agent/spending" })] },
    { name: "GET agent/spending (endpoint) [top agent]", run: async (execute) => [await execute({ principal: topAgent, path: "/v1/agent/spending?group_by=endpoint" })] },
    { name: "GET agent/spending (vendor) [random agent]", run: async (execute, i) => [await execute({ principal: agent(i), path: "/v1/agent/spending" })] },
    { name: "GET admin/gateways (100)", run: async (execute) => [await execute({ principal: admin, path: "/v1/admin/gateways?limit=100" })] },
    secondPage("GET admin/gateways (page 2)", admin, "/v1/admin/gateways?limit=100"),
    { name: "GET admin/gateways?status=stale", run: async (execute) => [await execute({ principal: admin, path: "/v1/admin/gateways?status=stale" })] }
  ]
}
