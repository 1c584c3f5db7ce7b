/**
 * The payments list: keyset pages that neither repeat nor skip a row while payments keep
 * arriving (also with equal event_times, which only seq tells apart), filters, and 400s
 * that name the parameter.
 */
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { ConsoleTestLayer, clientFor, insertPayments, insertVendor, minutesAgo, send, token } from "./support.js"

const vendor = token({ role: "vendor", vendorId: "pv" })

interface Page {
  readonly items: ReadonlyArray<{ readonly payment_id: string; readonly event_time: string; readonly amount: string }>
  readonly next_cursor: string | null
}

const pageThrough = (query: string, limit: number) =>
  Effect.gen(function*() {
    const seen: Array<string> = []
    let cursor: string | null = null
    let pages = 0
    do {
      const url: string = `/v1/vendor/payments?limit=${limit}${query}${cursor === null ? "" : `&cursor=${cursor}`}`
      const response = yield* send("GET", url, { bearer: vendor })
      expect(response.status, JSON.stringify(response.body)).toBe(200)
      const page = response.body as Page
      seen.push(...page.items.map((p) => p.payment_id))
      cursor = page.next_cursor
      pages++
    } while (cursor !== null && pages < 1000)
    return seen
  })

layer(ConsoleTestLayer, { excludeTestServices: true })("vendor payments", (it) => {
  it.effect("fixtures", () =>
    Effect.gen(function*() {
      yield* insertVendor("pv", ["pv-g1", "pv-g2", "pv-g3"])
      yield* insertVendor("other", ["other-g1"])
    }))

  it.effect("pages stay stable while payments are inserted: nothing repeated, nothing skipped", () =>
    Effect.gen(function*() {
      // 400 payments over the last 10 hours on three gateways; every third shares its time
      // with the next one, so ties are broken by seq.
      const base = Date.now() - 10 * 3_600_000
      const initial = yield* insertPayments(Array.from({ length: 400 }, (_, i) => ({
        gateway: `pv-g${(i % 3) + 1}`,
        agent: `agent-${i % 17}`,
        time: new Date(base + Math.floor(i / 2) * 90_000).toISOString()
      })))
      yield* insertPayments([{ gateway: "other-g1", agent: "agent-1", time: minutesAgo(5) }])
      // Meanwhile: new payments at the head, at times already paged over, and at equal times.
      const writer = yield* Effect.forever(
        Effect.gen(function*() {
          const t = base + Math.floor(Math.random() * 10 * 3_600_000)
          yield* insertPayments([
            { gateway: "pv-g1", agent: "late", time: new Date(t).toISOString() },
            { gateway: "pv-g2", agent: "late", time: new Date(base + Math.floor(Math.random() * 200) * 90_000).toISOString() },
            { gateway: "pv-g3", agent: "new", time: new Date().toISOString() }
          ])
          yield* Effect.sleep("2 millis")
        })
      ).pipe(Effect.fork)
      const seen = yield* pageThrough("", 23)
      yield* Fiber.interrupt(writer)
      const sql = yield* SqlClient.SqlClient
      const concurrent = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM payment_authorized WHERE agent_id IN ('late', 'new')`
      expect(concurrent[0]?.n, "payments inserted while paging").toBeGreaterThan(20)
      expect(new Set(seen).size, "no payment repeated").toBe(seen.length)
      const missing = initial.filter((id) => !seen.includes(id))
      expect(missing, "no payment skipped").toEqual([])
    }))

  it.effect("items are newest first with exact, ordered event times", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(vendor)
      const page = yield* client.consoleVendor.payments({ urlParams: { limit: 200 } })
      const times = page.items.map((p) => Date.parse(p.event_time))
      expect([...times].sort((a, b) => b - a)).toEqual(times)
      for (const p of page.items) {
        expect(p.event_time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/)
        expect(p.amount).toMatch(/^\d+(\.\d+)?$/)
        expect(p.gateway_id).not.toBe("other-g1")
      }
    }))

  it.effect("filters: gateway, agent, asset, network, amount range, time range", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* insertPayments([
        { gateway: "pv-g1", agent: "filter-agent", time: minutesAgo(50), amount: "5", asset: "EURC", network: "solana" },
        { gateway: "pv-g2", agent: "filter-agent", time: minutesAgo(40), amount: "0.001" },
        { gateway: "pv-g2", agent: "filter-agent", time: minutesAgo(30), amount: "12.5" },
        { gateway: "other-g1", agent: "filter-agent", time: minutesAgo(20), amount: "7" }
      ])
      const ids = (query: string) => Effect.map(pageThrough(query, 50), (list) => list.length)
      const count = (where: string) =>
        Effect.map(
          sql.unsafe<{ n: number }>(
            `SELECT count(*)::int AS n FROM payment_authorized p JOIN gateways g ON g.id = p.gateway_id
              WHERE g.vendor_id = 'pv' AND p.event_time >= now() - interval '30 days' AND ${where}`
          ),
          (rows) => rows[0]?.n ?? -1
        )
      expect(yield* ids("&agent_id=filter-agent")).toBe(3)
      expect(yield* ids("&agent_id=filter-agent&gateway_id=pv-g2")).toBe(2)
      expect(yield* ids("&asset=EURC")).toBe(1)
      expect(yield* ids("&network=solana")).toBe(1)
      expect(yield* ids("&min_amount=5&max_amount=12.5")).toBe(2)
      expect(yield* ids("&gateway_id=pv-g3")).toBe(yield* count("p.gateway_id = 'pv-g3'"))
      expect(yield* ids(`&agent_id=filter-agent&from=${minutesAgo(45)}&to=${minutesAgo(35)}`)).toBe(1)
    }))

  it.effect("time bounds keep their microseconds, as the stored times do (a bound cut to milliseconds moved by up to 999 µs)", () =>
    Effect.gen(function*() {
      // Three payments inside one millisecond: .123100, .123400 and .123700.
      const ms = new Date(Date.now() - 25 * 60_000).toISOString().slice(0, 19)
      const at = (digits: string) => `${ms}.${digits}Z`
      yield* insertPayments(["123100", "123400", "123700"].map((d) => ({ gateway: "pv-g1", agent: "micro-agent", time: at(d) })))
      const times = (query: string) =>
        Effect.gen(function*() {
          const response = yield* send("GET", `/v1/vendor/payments?agent_id=micro-agent${query}`, { bearer: vendor })
          expect(response.status, JSON.stringify(response.body)).toBe(200)
          const page = response.body as Page & { readonly from: string; readonly to: string }
          return { times: page.items.map((p) => (p.event_time.split(".")[1] ?? "").replace("Z", "").padEnd(6, "0")).sort(), from: page.from, to: page.to }
        })
      expect((yield* times(`&from=${at("1235")}&to=${at("9")}`)).times).toEqual(["123700"])
      expect((yield* times(`&from=${at("1234")}&to=${at("9")}`)).times).toEqual(["123400", "123700"])
      expect((yield* times(`&from=${at("123400")}&to=${at("123700")}`)).times).toEqual(["123400"])
      expect((yield* times(`&from=${at("123")}&to=${at("1234")}`)).times).toEqual(["123100"])
      // With an offset, and echoed as UTC with the digits given.
      const local = `${new Date(Date.parse(at("0")) + 2 * 3_600_000).toISOString().slice(0, 19)}.1232+02:00`
      const shifted = yield* times(`&from=${encodeURIComponent(local)}&to=${at("9")}`)
      expect(shifted.times).toEqual(["123400", "123700"])
      expect(shifted.from).toBe(at("1232"))
      // Inside one millisecond, from must still be before to.
      const reversed = yield* send("GET", `/v1/vendor/payments?from=${at("1235")}&to=${at("1234")}`, { bearer: vendor })
      expect(reversed.status).toBe(400)
      expect(JSON.stringify(reversed.body)).toContain("from")
    }))

  it.effect("amount filters find matches behind the newest 1,000 payments of a gateway, newest first, page by page", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      // pv-g1: 1,500 payments in the last 25 hours; the large and the tiny ones sit mostly
      // behind the newest 1,000 (where the list stops walking in time order).
      const base = Date.now() - 25 * 3_600_000
      yield* insertPayments(Array.from({ length: 1_500 }, (_, i) => ({
        gateway: i % 11 === 0 ? "pv-g2" : "pv-g1",
        agent: `amount-agent-${i % 5}`,
        time: new Date(base + i * 60_000).toISOString(),
        amount: i % 37 === 0 && i < 700 ? "9" : i === 1_400 ? "9.25" : i % 53 === 0 ? "0.0005" : "0.25"
      })))
      const expected = (where: string) =>
        Effect.map(
          sql.unsafe<{ payment_id: string }>(
            `SELECT p.payment_id FROM payment_authorized p JOIN gateways g ON g.id = p.gateway_id
              WHERE g.vendor_id = 'pv' AND p.event_time >= now() - interval '30 days' AND ${where}
              ORDER BY p.event_time DESC, p.seq DESC`
          ),
          (rows) => rows.map((r) => r.payment_id)
        )
      for (
        const [query, where] of [
          ["&min_amount=9", "p.amount >= 9"],
          ["&min_amount=9&max_amount=9.1", "p.amount >= 9 AND p.amount <= 9.1"],
          ["&max_amount=0.001", "p.amount <= 0.001"],
          ["&min_amount=0.2", "p.amount >= 0.2"]
        ] as const
      ) {
        const want = yield* expected(where)
        expect(want.length, query).toBeGreaterThan(7)
        const limit = query === "&min_amount=0.2" ? 200 : 7
        expect(yield* pageThrough(query, limit), query).toEqual(want)
      }
    }))

  it.effect("another vendor's gateway is not found, and bad parameters are 400s naming the parameter", () =>
    Effect.gen(function*() {
      const notFound = yield* send("GET", "/v1/vendor/payments?gateway_id=other-g1", { bearer: vendor })
      const unknown = yield* send("GET", "/v1/vendor/payments?gateway_id=nope", { bearer: vendor })
      expect(notFound.status).toBe(404)
      expect(unknown.status).toBe(404)
      expect(notFound.body).toEqual({ _tag: "NotFound", message: "gateway other-g1 not found" })
      expect(unknown.body).toEqual({ _tag: "NotFound", message: "gateway nope not found" })
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["limit=0", "limit"],
        ["limit=501", "limit"],
        ["limit=abc", "limit"],
        // Number() reads these; a page size is decimal digits only.
        ["limit=0x10", "limit"],
        ["limit=%2B5", "limit"],
        ["limit=%205", "limit"],
        ["limit=5%20", "limit"],
        ["limit=1e2", "limit"],
        ["limit=5.0", "limit"],
        ["from=yesterday", "from"],
        ["to=2025-02-30T00:00:00Z", "to"],
        ["min_amount=-1", "min_amount"],
        ["max_amount=1e5", "max_amount"],
        ["min_amount=5&max_amount=1", "max_amount"],
        ["cursor=not*a*cursor", "cursor"],
        ["cursor=WyJ4Il0", "cursor"],
        ["from=2025-01-01T00:00:00Z&to=2024-01-01T00:00:00Z", "from"],
        ["from=2020-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", "from"],
        ["gateway_id=%20bad", "gateway_id"]
      ]
      for (const [query, parameter] of cases) {
        const response = yield* send("GET", `/v1/vendor/payments?${query}`, { bearer: vendor })
        expect(response.status, query).toBe(400)
        const body = response.body as { readonly issues: ReadonlyArray<{ readonly path: ReadonlyArray<string> }> }
        expect(body.issues.map((i) => i.path[0]), query).toContain(parameter)
      }
    }))
})
