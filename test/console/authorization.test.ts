/**
 * Every console endpoint × every kind of caller. Vendor requests aim at vendor A's
 * resources (its gateway as a filter, its endpoint ids), so vendor B must get 404 — the
 * same answer as for an id that does not exist.
 */
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import type { PrincipalSpec } from "../../src/identity/Jwt.js"
import { ConsoleTestLayer, expiredToken, insertPayments, insertVendor, minutesAgo, send, token } from "./support.js"

const vendorA: PrincipalSpec = { role: "vendor", vendorId: "vendor-a" }
const vendorB: PrincipalSpec = { role: "vendor", vendorId: "vendor-b" }
const agent1: PrincipalSpec = { role: "agent", agentId: "agent-1" }
const agent2: PrincipalSpec = { role: "agent", agentId: "agent-2" }
const admin: PrincipalSpec = { role: "admin", subject: "ops" }

type Caller = "vendor" | "otherVendor" | "agent" | "otherAgent" | "admin" | "none" | "expired" | "badSignature"
const CALLERS: ReadonlyArray<Caller> = ["vendor", "otherVendor", "agent", "otherAgent", "admin", "none", "expired", "badSignature"]

const bearerOf = (caller: Caller, owner: PrincipalSpec): string | undefined => {
  switch (caller) {
    case "vendor":
      return token(vendorA)
    case "otherVendor":
      return token(vendorB)
    case "agent":
      return token(agent1)
    case "otherAgent":
      return token(agent2)
    case "admin":
      return token(admin)
    case "none":
      return undefined
    case "expired":
      return expiredToken(owner)
    case "badSignature":
      return token(owner, { secret: "some-other-secret-some-other-secret-!!" })
  }
}

interface Case {
  readonly name: string
  readonly method: "GET" | "POST" | "PATCH" | "DELETE"
  /** Builds the URL (and creates what the request needs) afresh for each caller. */
  readonly url: Effect.Effect<string, never, SqlClient.SqlClient>
  readonly body?: unknown
  readonly owner: PrincipalSpec
  readonly ok: number
  /** Expected status for each caller other than the owner; 401s are common to all. */
  readonly others: Partial<Record<Caller, number>>
}

const newEndpoint = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const path = `/priced/${Math.random().toString(36).slice(2)}`
  const rows = yield* sql<{ id: string }>`
    INSERT INTO endpoints (vendor_id, method, path, price, asset) VALUES ('vendor-a', 'GET', ${path}, 0.01, 'USDC')
    RETURNING id::text AS id`
  return rows[0]?.id ?? ""
}).pipe(Effect.orDie)

const fixed = (url: string) => Effect.succeed(url)
const vendorCase = (name: string, method: Case["method"], url: Case["url"], ok: number, body?: unknown): Case => ({
  name,
  method,
  url,
  ok,
  owner: vendorA,
  others: { otherVendor: 404, agent: 403, otherAgent: 403, admin: 403 },
  ...(body === undefined ? {} : { body })
})

const CASES: ReadonlyArray<Case> = [
  vendorCase("stats", "GET", fixed("/v1/vendor/stats?gateway_id=gw-a1"), 200),
  vendorCase("revenue-history", "GET", fixed("/v1/vendor/revenue-history?gateway_id=gw-a1&granularity=hour"), 200),
  vendorCase("consumers", "GET", fixed("/v1/vendor/consumers?gateway_id=gw-a1"), 200),
  vendorCase("list endpoints", "GET", fixed("/v1/vendor/endpoints?gateway_id=gw-a1"), 200),
  vendorCase("get endpoint", "GET", Effect.map(newEndpoint, (id) => `/v1/vendor/endpoints/${id}`), 200),
  vendorCase("create endpoint", "POST", fixed("/v1/vendor/endpoints"), 201, {
    method: "POST",
    path: "/created",
    price: "0.5",
    asset: "USDC",
    gateway_id: "gw-a1"
  }),
  vendorCase("update endpoint", "PATCH", Effect.map(newEndpoint, (id) => `/v1/vendor/endpoints/${id}`), 200, { price: "1.5" }),
  vendorCase("delete endpoint", "DELETE", Effect.map(newEndpoint, (id) => `/v1/vendor/endpoints/${id}`), 204),
  vendorCase("metrics", "GET", fixed("/v1/vendor/metrics?gateway_id=gw-a1"), 200),
  vendorCase("payments", "GET", fixed("/v1/vendor/payments?gateway_id=gw-a1"), 200),
  vendorCase("alerts", "GET", fixed("/v1/vendor/alerts?gateway_id=gw-a1"), 200),
  vendorCase("rejections", "GET", fixed("/v1/vendor/rejections?gateway_id=gw-a1"), 200),
  {
    name: "agent activity",
    method: "GET",
    url: fixed("/v1/agent/activity"),
    owner: agent1,
    ok: 200,
    others: { vendor: 403, otherVendor: 403, otherAgent: 200, admin: 403 }
  },
  {
    name: "agent spending",
    method: "GET",
    url: fixed("/v1/agent/spending"),
    owner: agent1,
    ok: 200,
    others: { vendor: 403, otherVendor: 403, otherAgent: 200, admin: 403 }
  },
  {
    name: "admin gateways",
    method: "GET",
    url: fixed("/v1/admin/gateways"),
    owner: admin,
    ok: 200,
    others: { vendor: 403, otherVendor: 403, agent: 403, otherAgent: 403 }
  }
]

const ownerCaller = (owner: PrincipalSpec): Caller =>
  owner.role === "vendor" ? "vendor" : owner.role === "agent" ? "agent" : "admin"

layer(ConsoleTestLayer, { excludeTestServices: true })("console authorisation matrix", (it) => {
  it.effect("fixtures", () =>
    Effect.gen(function*() {
      yield* insertVendor("vendor-a", ["gw-a1"])
      yield* insertVendor("vendor-b", ["gw-b1"])
      yield* insertPayments([
        { gateway: "gw-a1", agent: "agent-1", time: minutesAgo(30) },
        { gateway: "gw-b1", agent: "agent-2", time: minutesAgo(20) }
      ])
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO dead_letters (gateway_id, source, event_id, type, reason, field, payload, payload_bytes)
                 VALUES ('gw-a1', 'machpay://gateway/gw-a1', 'evt-a', 'PaymentAuthorized', 'must be a decimal string', 'data.amount', '{}', 2),
                        ('gw-b1', 'machpay://gateway/gw-b1', 'evt-b', 'PaymentAuthorized', 'must be a decimal string', 'data.amount', '{}', 2)`
    }))

  for (const c of CASES) {
    it.effect(`${c.method} ${c.name}`, () =>
      Effect.gen(function*() {
        const expected: Record<Caller, number> = {
          vendor: 0,
          otherVendor: 0,
          agent: 0,
          otherAgent: 0,
          admin: 0,
          ...c.others,
          [ownerCaller(c.owner)]: c.ok,
          none: 401,
          expired: 401,
          badSignature: 401
        }
        const got: Partial<Record<Caller, number>> = {}
        for (const caller of CALLERS) {
          const url = yield* c.url
          const response = yield* send(c.method, url, { bearer: bearerOf(caller, c.owner), body: c.body })
          got[caller] = response.status
          if (response.status === 401) {
            expect(response.headers["www-authenticate"], `${caller}: challenge`).toMatch(/^Bearer /)
          }
          if (response.status >= 400) {
            const body = response.body as { readonly message?: unknown }
            expect(typeof body.message, `${caller}: error message`).toBe("string")
          }
        }
        expect(got).toEqual(expected)
      }))
  }

  it.effect("401 messages tell missing, expired and forged tokens apart", () =>
    Effect.gen(function*() {
      const missing = yield* send("GET", "/v1/vendor/stats")
      const expired = yield* send("GET", "/v1/vendor/stats", { bearer: expiredToken(vendorA) })
      const forged = yield* send("GET", "/v1/vendor/stats", { bearer: token(vendorA, { secret: "x".repeat(40) }) })
      const garbage = yield* send("GET", "/v1/vendor/stats", { bearer: "not-a-jwt" })
      const forbidden = yield* send("GET", "/v1/vendor/stats", { bearer: token(agent1) })
      expect(missing.body).toMatchObject({ _tag: "Unauthorized", message: expect.stringContaining("missing bearer token") })
      expect(expired.body).toMatchObject({ _tag: "Unauthorized", message: "the token has expired" })
      expect(forged.body).toMatchObject({ _tag: "Unauthorized", message: "the token's signature is invalid" })
      expect(garbage.body).toMatchObject({ _tag: "Unauthorized", message: "the bearer token is not a well-formed JWT" })
      expect(forbidden.body).toMatchObject({ _tag: "Forbidden", message: "this endpoint is for vendor tokens; the token's role is agent" })
      expect(forbidden.headers["www-authenticate"]).toBeUndefined()
    }))

  it.effect("another agent sees none of the agent's records", () =>
    Effect.gen(function*() {
      const mine = yield* send("GET", "/v1/agent/activity", { bearer: token(agent1) })
      const theirs = yield* send("GET", "/v1/agent/activity", { bearer: token(agent2) })
      const ids = (r: { readonly body: unknown }) =>
        ((r.body as { readonly items: ReadonlyArray<{ readonly gateway_id: string }> }).items).map((i) => i.gateway_id)
      expect(ids(mine)).toEqual(["gw-a1"])
      expect(ids(theirs)).toEqual(["gw-b1"])
    }))

  it.effect("each vendor sees only its own gateways' rejections", () =>
    Effect.gen(function*() {
      const rows = (r: { readonly body: unknown }) =>
        (r.body as { readonly items: ReadonlyArray<{ readonly gateway_id: string; readonly event_id: string }> }).items
      const a = yield* send("GET", "/v1/vendor/rejections", { bearer: token(vendorA) })
      const b = yield* send("GET", "/v1/vendor/rejections", { bearer: token({ role: "vendor", vendorId: "vendor-b" }) })
      expect(rows(a)).toMatchObject([{ gateway_id: "gw-a1", event_id: "evt-a", type: "PaymentAuthorized", field: "data.amount" }])
      expect(rows(b).map((r) => r.event_id)).toEqual(["evt-b"])
    }))
})
