/**
 * No query string reaches SQL unchecked: every bad parameter, time bound and cursor is a 400
 * naming it (never a 500), cursors are signed and bound to their caller and query, and sums
 * beyond numeric(38,18) still encode.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { cursorScope, signCursor } from "../../src/console/Cursor.js"
import { ConsoleTestLayer, insertPayments, insertVendor, minutesAgo, send, TestCursorKey, token } from "./support.js"

const vendor = token({ role: "vendor", vendorId: "vx" })
const other = token({ role: "vendor", vendorId: "vy" })
const agent = token({ role: "agent", agentId: "big-agent" })
const admin = token({ role: "admin", subject: "ops" })

/** A cursor signed with the server's key: what a leaked key could produce. */
const signed = (kind: string, caller: string, query: object, ...values: Array<string | number>) =>
  signCursor(kind, cursorScope(caller, query), values).pipe(
    Effect.provide(TestCursorKey)
  )

const expect400 = (url: string, bearer: string, parameter: string) =>
  Effect.gen(function*() {
    const response = yield* send("GET", url, { bearer })
    expect(response.status, url).toBe(400)
    const body = response.body as { _tag: string; issues: ReadonlyArray<{ path: ReadonlyArray<string> }> }
    expect(body._tag, url).toBe("HttpApiDecodeError")
    expect(body.issues.map((i) => i.path[0]), url).toContain(parameter)
  })

layer(ConsoleTestLayer, { excludeTestServices: true })("console parameter validation", (it) => {
  it.effect("fixtures", () =>
    Effect.gen(function*() {
      yield* insertVendor("vx", ["vx-g1"])
      yield* insertVendor("vy", ["vy-g1"])
      yield* insertPayments(Array.from({ length: 3 }, (_, i) => ({ gateway: "vx-g1", agent: "a-1", time: minutesAgo(10 + i) })))
    }))

  it.effect("time bounds PostgreSQL or JavaScript cannot hold are 400s naming the parameter", () =>
    Effect.gen(function*() {
      for (const path of ["stats", "revenue-history", "consumers", "metrics", "payments", "alerts", "rejections"]) {
        yield* expect400(`/v1/vendor/${path}?from=0000-01-01T00:00:00Z`, vendor, "from")
        yield* expect400(`/v1/vendor/${path}?to=0000-01-01T00:00:00Z`, vendor, "to")
        yield* expect400(`/v1/vendor/${path}?to=9999-12-31T23:00:00-05:00`, vendor, "to")
        yield* expect400(`/v1/vendor/${path}?from=yesterday`, vendor, "from")
        yield* expect400(`/v1/vendor/${path}?from=1969-12-31T23:59:59Z&to=1970-01-02T00:00:00Z`, vendor, "from")
      }
      yield* expect400("/v1/agent/activity?from=0000-01-01T00:00:00Z", agent, "from")
      yield* expect400("/v1/agent/spending?to=0000-01-01T00:00:00%2B01:00", agent, "to")
    }))

  it.effect("a default `from` stops at 1970-01-01 when `to` is early (it fell before 1970)", () =>
    Effect.gen(function*() {
      for (const path of ["/v1/vendor/stats", "/v1/vendor/payments", "/v1/vendor/revenue-history"]) {
        const response = yield* send("GET", `${path}?to=1970-01-02T00:00:00Z`, { bearer: vendor })
        expect(response.status, `${path} ${JSON.stringify(response.body)}`).toBe(200)
        expect((response.body as { from: string }).from, path).toMatch(/^1970-01-01T00:00:00(\.000)?Z$/)
      }
      const activity = yield* send("GET", "/v1/agent/activity?to=1970-01-02T00:00:00Z", { bearer: agent })
      expect(activity.status).toBe(200)
      expect((activity.body as { from: string }).from).toMatch(/^1970-01-01T00:00:00(\.000)?Z$/)
      // A `to` at the earliest time leaves no range: the message says so (it said "to: must be before `to`").
      const none = yield* send("GET", "/v1/vendor/payments?to=1970-01-01T00:00:00Z", { bearer: vendor })
      expect(none.status).toBe(400)
      expect(JSON.stringify(none.body)).toContain("must be after 1970-01-01T00:00:00Z")
      expect(JSON.stringify(none.body)).not.toContain("must be before `to`")
    }))

  it.effect("text where a number is expected, and limits out of range", () =>
    Effect.gen(function*() {
      yield* expect400("/v1/vendor/payments?limit=abc", vendor, "limit")
      yield* expect400("/v1/vendor/payments?limit=1e3", vendor, "limit")
      yield* expect400("/v1/vendor/payments?limit=99999999999999999999999", vendor, "limit")
      yield* expect400("/v1/vendor/payments?min_amount=1e5", vendor, "min_amount")
      yield* expect400("/v1/vendor/payments?max_amount=123456789012345678901", vendor, "max_amount")
      yield* expect400("/v1/vendor/consumers?limit=0", vendor, "limit")
      yield* expect400("/v1/agent/spending?limit=-1", agent, "limit")
      yield* expect400("/v1/admin/gateways?limit=NaN", admin, "limit")
      yield* expect400("/v1/vendor/endpoints/99999999999999999999", vendor, "id")
      yield* expect400("/v1/vendor/payments?gateway_id=%00", vendor, "gateway_id")
    }))

  it.effect("unsigned, edited and foreign cursors are 400s on every list", () =>
    Effect.gen(function*() {
      const urls: ReadonlyArray<readonly [string, string]> = [
        ["/v1/vendor/payments", vendor],
        ["/v1/vendor/alerts", vendor],
        ["/v1/vendor/consumers", vendor],
        ["/v1/vendor/endpoints", vendor],
        ["/v1/vendor/rejections", vendor],
        ["/v1/agent/activity", agent],
        ["/v1/admin/gateways", admin]
      ]
      const unsigned = Buffer.from(JSON.stringify(["payments", ["2025-06-01T12:00:00Z", "1"]])).toString("base64url")
      for (const [url, bearer] of urls) {
        yield* expect400(`${url}?cursor=${unsigned}`, bearer, "cursor")
        yield* expect400(`${url}?cursor=bm9wZQ.bm9wZQ`, bearer, "cursor")
        yield* expect400(`${url}?cursor=${"A".repeat(3000)}`, bearer, "cursor")
      }
      // A real cursor of vendor vx: refused for vendor vy, and for vx under other filters.
      const page = yield* send("GET", "/v1/vendor/payments?limit=1", { bearer: vendor })
      const cursor = (page.body as { next_cursor: string }).next_cursor
      expect(cursor).toBeTypeOf("string")
      expect((yield* send("GET", `/v1/vendor/payments?limit=1&cursor=${cursor}`, { bearer: vendor })).status).toBe(200)
      yield* expect400(`/v1/vendor/payments?limit=1&cursor=${cursor}`, other, "cursor")
      yield* expect400(`/v1/vendor/payments?limit=1&asset=EURC&cursor=${cursor}`, vendor, "cursor")
      yield* expect400(`/v1/vendor/alerts?limit=1&cursor=${cursor}`, vendor, "cursor")
    }))

  it.effect("signed cursors holding values PostgreSQL would refuse are 400s, not 500s", () =>
    Effect.gen(function*() {
      const time = "2025-06-01T12:00:00Z"
      const cases: ReadonlyArray<readonly [string, string, string]> = [
        // sequence beyond bigint
        ["/v1/vendor/payments", vendor, yield* signed("payments", "vendor:vx", {}, time, "9223372036854775808")],
        ["/v1/vendor/alerts", vendor, yield* signed("alerts", "vendor:vx", {}, time, 1, "99999999999999999999")],
        ["/v1/vendor/endpoints", vendor, yield* signed("endpoints", "vendor:vx", {}, "9223372036854775808")],
        ["/v1/vendor/rejections", vendor, yield* signed("rejections", "vendor:vx", {}, time, "9223372036854775808")],
        // text where a number or a time is expected
        ["/v1/vendor/payments", vendor, yield* signed("payments", "vendor:vx", {}, "0000-01-01T00:00:00Z", "1")],
        ["/v1/vendor/consumers?sort=spend", vendor, yield* signed("consumers", "vendor:vx", { sort: "spend" }, "spend", "abc", "a-1", time)],
        ["/v1/vendor/consumers?sort=last_seen", vendor, yield* signed("consumers", "vendor:vx", { sort: "last_seen" }, "last_seen", "12", "a-1", time)],
        ["/v1/vendor/consumers", vendor, yield* signed("consumers", "vendor:vx", {}, "spend", "1", "a-1", "0000-01-01T00:00:00Z")],
        ["/v1/agent/activity", agent, yield* signed("activity", "agent:big-agent", {}, time, 3, "abc")],
        ["/v1/agent/activity", agent, yield* signed("activity", "agent:big-agent", {}, time, 1, "9223372036854775808")],
        ["/v1/agent/activity", agent, yield* signed("activity", "agent:big-agent", {}, "yesterday", 2, "intent-1")],
        // An intent's key before 2026-12-07 (the intent id alone, no gateway): refused, not misread.
        ["/v1/agent/activity", agent, yield* signed("activity", "agent:big-agent", {}, time, 2, "intent-1")],
        ["/v1/admin/gateways", admin, yield* signed("gateways", "admin", {}, "gw\u0000")]
      ]
      for (const [url, bearer, cursor] of cases) {
        yield* expect400(`${url}${url.includes("?") ? "&" : "?"}cursor=${cursor}`, bearer, "cursor")
      }
    }))

  it.effect("request bodies PostgreSQL cannot store are 400s", () =>
    Effect.gen(function*() {
      const response = yield* send("POST", "/v1/vendor/endpoints", {
        bearer: vendor,
        body: { method: "GET", path: "/v1/x\u0000", price: "1", asset: "USDC", description: "a\u0000b" }
      })
      expect(response.status).toBe(400)
    }))

  it.effect("two payments of 99999999999999999999 sum exactly on every endpoint", () =>
    Effect.gen(function*() {
      yield* insertVendor("big", ["big-g1"])
      yield* insertPayments([
        { gateway: "big-g1", agent: "big-agent", time: minutesAgo(30), amount: "99999999999999999999" },
        { gateway: "big-g1", agent: "big-agent", time: minutesAgo(90), amount: "99999999999999999999.5" },
        // The same agent at another tenant's gateway: the agent's figures include it.
        { gateway: "vx-g1", agent: "big-agent", time: minutesAgo(20), amount: "99999999999999999999" }
      ])
      const big = token({ role: "vendor", vendorId: "big" })
      const sum = "199999999999999999998.5"
      const stats = yield* send("GET", "/v1/vendor/stats", { bearer: big })
      expect(stats.status).toBe(200)
      expect((stats.body as { revenue: unknown }).revenue).toEqual([{ asset: "USDC", amount: sum, payments: 2 }])
      for (const url of ["/v1/vendor/revenue-history", "/v1/vendor/revenue-history?granularity=hour", "/v1/vendor/consumers", "/v1/vendor/payments"]) {
        expect((yield* send("GET", url, { bearer: big })).status, url).toBe(200)
      }
      const consumers = yield* send("GET", "/v1/vendor/consumers", { bearer: big })
      expect((consumers.body as { items: ReadonlyArray<{ spend: unknown }> }).items[0]?.spend).toEqual([{ asset: "USDC", amount: sum }])
      const spending = yield* send("GET", "/v1/agent/spending", { bearer: agent })
      expect(spending.status).toBe(200)
      expect((spending.body as { totals: unknown }).totals).toEqual([
        { asset: "USDC", amount: "299999999999999999997.5", payments: 3 }
      ])
      expect((yield* send("GET", "/v1/agent/activity", { bearer: agent })).status).toBe(200)
    }))
})
