/**
 * Every payment figure of the console equals a recomputation from the stored payments, at
 * every moment: payments spread over the last three days are written through the real
 * ingest store (which marks late hours dirty), and stats, revenue history (daily and hourly),
 * consumers and the agents' spending are compared with SQL over `payment_authorized` — before
 * the rollup job has ever run, after it, after late payments it has not seen, and while it
 * runs. Requests never build rollups; the job does. The default range (no `from`/`to`) is
 * checked the same way: there consumers and unique agents come from the vendor's per-agent
 * window (migration 0033) while it is clean — every sort, page by page.
 */
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect, Fiber, Layer, Option } from "effect"
import { paymentAuthorizedData, requestBlockedData } from "../../schema/examples.js"
import { EventStore } from "../../src/ingest/EventStore.js"
import { EventStorePg } from "../../src/ingest/EventStorePg.js"
import { routeOf } from "../../src/ingest/IngestEvent.js"
import { JobRunner, makeJobRunner } from "../../src/jobs/Jobs.js"
import { defaultJobsSettings } from "../../src/jobs/JobsConfig.js"
import { toIngestEvent } from "../ingest/support.js"
import { runnerLayer } from "../jobs/support.js"
import { ConsoleTestLayer, insertVendor, send, token } from "./support.js"

const HOUR = 3_600_000
const DAY = 24 * HOUR
const start = Date.now()
const from = new Date(Math.floor(start / DAY) * DAY - 3 * DAY).toISOString()
const to = new Date(Math.ceil(start / HOUR) * HOUR + HOUR).toISOString()
const GATEWAYS = ["tv-g1", "tv-g2", "tw-g1"] as const
const AGENTS = Array.from({ length: 12 }, (_, i) => `t-agent-${i}`)
const vendor = token({ role: "vendor", vendorId: "tv" })

const TestLayer = Layer.mergeAll(EventStorePg, runnerLayer()).pipe(Layer.provideMerge(ConsoleTestLayer))

let sequence = 0
/**
 * `n` events of one type through the ingest store (which marks late hours dirty), at times drawn
 * from [lo, hi) ms; `make(i, gateway)` gives the i-th event's id and data.
 */
const ingestEvents = (
  type: "PaymentAuthorized" | "RequestBlocked",
  n: number,
  lo: number,
  hi: number,
  make: (i: number, gateway: string) => { readonly id: string; readonly data: Record<string, unknown> }
) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const events = Array.from({ length: n }, () => {
      const i = ++sequence
      const gateway = GATEWAYS[i % GATEWAYS.length]!
      const { data, id } = make(i, gateway)
      const time = new Date(lo + Math.floor(((i * 7919) % 1000) / 1000 * (hi - lo))).toISOString()
      return toIngestEvent(
        { specversion: "1.0", id, source: `machpay://gateway/${gateway}`, type, time, data },
        { gatewayId: gateway, receivedAt: Date.now() }
      )
    })
    const first = events[0]
    if (first !== undefined) yield* store.write(routeOf(first), events)
  })

/** `n` payments, at times drawn from [lo, hi) ms. */
const ingest = (n: number, lo: number, hi: number) =>
  ingestEvents("PaymentAuthorized", n, lo, hi, (i, gateway) => ({
    id: `truth-${i}`,
    data: {
      ...paymentAuthorizedData,
      gateway_id: gateway,
      payment_id: `pay-truth-${i}`,
      request_id: `req-truth-${i}`,
      agent_id: AGENTS[i % AGENTS.length],
      amount: `${i % 7}.${(i * 37) % 1000}`,
      asset: i % 5 === 0 ? "EURC" : "USDC"
    }
  }))

/** `n` blocked requests, at times drawn from [lo, hi) ms. */
const ingestBlocked = (n: number, lo: number, hi: number) =>
  ingestEvents("RequestBlocked", n, lo, hi, (i, gateway) => ({
    id: `truth-blocked-${i}`,
    data: { ...requestBlockedData, gateway_id: gateway, request_id: `req-blocked-${i}`, agent_id: AGENTS[i % AGENTS.length] }
  }))

/** Byte order of agent id, then asset (SQL and the console sort agents differently). */
const byAgentAsset = (a: Record<string, unknown>, b: Record<string, unknown>) => {
  const x = `${String(a["agent_id"])}\u0000${String(a["asset"] ?? "")}`
  const y = `${String(b["agent_id"])}\u0000${String(b["asset"] ?? "")}`
  return x < y ? -1 : x > y ? 1 : 0
}

/** The figures recomputed from `payment_authorized` alone. */
const recomputed = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const mine = sql`p.gateway_id IN ('tv-g1', 'tv-g2') AND p.event_time >= ${from}::timestamptz AND p.event_time < ${to}::timestamptz`
  const revenue = yield* sql`
    SELECT p.asset, trim_scale(sum(p.amount))::text AS amount, count(*)::int AS payments FROM payment_authorized p
     WHERE ${mine} GROUP BY 1 ORDER BY 1`
  const [agents] = yield* sql<{ n: number }>`SELECT count(DISTINCT p.agent_id)::int AS n FROM payment_authorized p WHERE ${mine}`
  const [blocked] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM request_blocked p WHERE ${mine}`
  const buckets = (unit: "day" | "hour") =>
    sql<{ time: string; asset: string; amount: string; payments: number }>`
      SELECT rfc3339_utc(date_trunc(${unit}, p.event_time, 'UTC')) AS time, p.asset, trim_scale(sum(p.amount))::text AS amount,
             count(*)::int AS payments
        FROM payment_authorized p WHERE ${mine} GROUP BY 1, 2 ORDER BY 1, 2`
  const consumers = yield* sql`
    SELECT p.agent_id, count(*)::int AS payments, rfc3339_utc(min(p.event_time)) AS first_seen,
           rfc3339_utc(max(p.event_time)) AS last_seen
      FROM payment_authorized p WHERE ${mine} GROUP BY 1 ORDER BY 1`
  const spend = yield* sql`
    SELECT p.agent_id, p.asset, trim_scale(sum(p.amount))::text AS amount FROM payment_authorized p
     WHERE ${mine} GROUP BY 1, 2 ORDER BY 1, 2`
  const spending = yield* sql`
    SELECT p.agent_id, p.asset, trim_scale(sum(p.amount))::text AS amount, count(*)::int AS payments FROM payment_authorized p
     WHERE p.event_time >= ${from}::timestamptz AND p.event_time < ${to}::timestamptz AND p.agent_id LIKE 't-agent-%'
     GROUP BY 1, 2 ORDER BY 1, 2`
  return {
    revenue,
    uniqueAgents: agents?.n ?? 0,
    blocked: blocked?.n ?? 0,
    daily: yield* buckets("day"),
    hourly: yield* buckets("hour"),
    consumers,
    spend,
    spending: [...spending].sort(byAgentAsset)
  }
})

interface Point {
  readonly time: string
  readonly revenue: ReadonlyArray<{ readonly asset: string; readonly amount: string; readonly payments: number }>
}
interface ConsumerItem {
  readonly agent_id: string
  readonly payments: number
  readonly first_seen: string
  readonly last_seen: string
  readonly spend: ReadonlyArray<{ readonly asset: string; readonly amount: string }>
}

const get = (url: string, bearer = vendor) =>
  Effect.map(send("GET", url, { bearer }), (response) => {
    expect(response.status, url).toBe(200)
    return response.body as Record<string, unknown>
  })

/** The same figures as the console serves them. */
const served = Effect.gen(function*() {
  const range = `from=${from}&to=${to}`
  const stats = yield* get(`/v1/vendor/stats?${range}`)
  const nonZero = (points: ReadonlyArray<Point>) =>
    points.flatMap((p) => p.revenue.filter((r) => r.payments > 0).map((r) => ({ time: p.time, ...r })))
  const daily = yield* get(`/v1/vendor/revenue-history?${range}`)
  const hourly = yield* get(`/v1/vendor/revenue-history?granularity=hour&${range}`)
  const consumers = ((yield* get(`/v1/vendor/consumers?limit=500&${range}`))["items"] as ReadonlyArray<ConsumerItem>)
    .slice().sort((a, b) => byAgentAsset({ ...a }, { ...b }))
  const spending = []
  for (const agent of AGENTS) {
    const body = yield* get(`/v1/agent/spending?${range}`, token({ role: "agent", agentId: agent }))
    for (const total of body["totals"] as ReadonlyArray<Record<string, unknown>>) spending.push({ agent_id: agent, ...total })
  }
  return {
    revenue: stats["revenue"],
    uniqueAgents: stats["unique_agents"],
    blocked: stats["blocked_requests"],
    daily: nonZero(daily["points"] as ReadonlyArray<Point>),
    hourly: nonZero(hourly["points"] as ReadonlyArray<Point>),
    consumers: consumers.map(({ agent_id, first_seen, last_seen, payments }) => ({ agent_id, payments, first_seen, last_seen })),
    spend: consumers.flatMap((c) => c.spend.map((s) => ({ agent_id: c.agent_id, ...s }))).sort(byAgentAsset),
    spending: spending.sort(byAgentAsset)
  }
})

const SORTS = ["spend", "payments", "last_seen", "first_seen"] as const
/** SQL ranking of each consumers sort: value descending, then agent id in byte order descending. */
const RANKING: Record<(typeof SORTS)[number], string> = {
  spend: "sum(p.amount) DESC", payments: "count(*) DESC", last_seen: "max(p.event_time) DESC", first_seen: "min(p.event_time) DESC"
}

/** The default range's figures (the last 30 UTC days, today included) recomputed from the payments. */
const recomputedDefault = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const mine = sql`p.gateway_id IN ('tv-g1', 'tv-g2')
    AND p.event_time >= date_trunc('day', now(), 'UTC') - interval '29 days' AND p.event_time < now()`
  const [agents] = yield* sql<{ n: number }>`SELECT count(DISTINCT p.agent_id)::int AS n FROM payment_authorized p WHERE ${mine}`
  const [blocked] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM request_blocked p WHERE ${mine}`
  const revenue = yield* sql`
    SELECT p.asset, trim_scale(sum(p.amount))::text AS amount, count(*)::int AS payments FROM payment_authorized p
     WHERE ${mine} GROUP BY 1 ORDER BY 1`
  const rankings: Record<string, ReadonlyArray<unknown>> = {}
  for (const sort of SORTS) {
    rankings[sort] = yield* sql`
      SELECT a.agent_id, a.payments, a.first_seen, a.last_seen,
             (SELECT json_agg(json_build_object('asset', s.asset, 'amount', trim_scale(s.amount)::text) ORDER BY s.asset)
                FROM (SELECT p.asset, sum(p.amount) AS amount FROM payment_authorized p
                       WHERE ${mine} AND p.agent_id = a.agent_id GROUP BY 1) s) AS spend
        FROM (SELECT p.agent_id, count(*)::int AS payments, rfc3339_utc(min(p.event_time)) AS first_seen,
                     rfc3339_utc(max(p.event_time)) AS last_seen
                FROM payment_authorized p WHERE ${mine}
               GROUP BY 1 ORDER BY ${sql.literal(RANKING[sort])}, p.agent_id COLLATE "C" DESC) a`
  }
  return { uniqueAgents: agents?.n ?? 0, blocked: blocked?.n ?? 0, revenue, rankings }
})

/** The same as served for the default range: unique agents, and each sort paged 5 agents at a time. */
const servedDefault = Effect.gen(function*() {
  const stats = yield* get("/v1/vendor/stats")
  const rankings: Record<string, ReadonlyArray<unknown>> = {}
  for (const sort of SORTS) {
    const items: Array<unknown> = []
    let cursor: string | null = null
    do {
      const body: Record<string, unknown> = yield* get(
        `/v1/vendor/consumers?limit=5&sort=${sort}${cursor === null ? "" : `&cursor=${cursor}`}`
      )
      for (const item of body["items"] as ReadonlyArray<ConsumerItem & { agent_name?: unknown }>) {
        const { agent_name: _, ...rest } = item
        items.push(rest)
      }
      cursor = body["next_cursor"] as string | null
    } while (cursor !== null && items.length < 1000)
    rankings[sort] = items
  }
  return { uniqueAgents: stats["unique_agents"], blocked: stats["blocked_requests"], revenue: stats["revenue"], rankings }
})

const expectTrue = (when: string) =>
  Effect.gen(function*() {
    const expected = yield* recomputed
    const actual = yield* served
    expect(actual, when).toEqual(expected)
    expect(yield* servedDefault, `${when}, default range`).toEqual(yield* recomputedDefault)
    return expected
  })

/** Whether tv's consumers window is read: damage one agent's window total and see whether it shows. */
const windowIsRead = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const before = yield* servedDefault
  yield* sql`UPDATE console_consumer_totals SET payments = payments + 1000 WHERE vendor_id = 'tv'`
  yield* sql`UPDATE console_consumer_windows SET agents = agents + 1000, blocked = blocked + 1000 WHERE vendor_id = 'tv'`
  const damaged = yield* servedDefault
  yield* sql`UPDATE console_consumer_totals SET payments = payments - 1000 WHERE vendor_id = 'tv'`
  yield* sql`UPDATE console_consumer_windows SET agents = agents - 1000, blocked = blocked - 1000 WHERE vendor_id = 'tv'`
  const consumersMoved = JSON.stringify(damaged.rankings) !== JSON.stringify(before.rankings)
  const statsMoved = damaged.uniqueAgents !== before.uniqueAgents
  const blockedMoved = damaged.blocked !== before.blocked
  const [stored] = yield* sql<{ counted: boolean }>`
    SELECT blocked IS NOT NULL AS counted FROM console_consumer_windows WHERE vendor_id = 'tv'`
  // Consumers and stats decide alone whether the window is clean: they must agree.
  expect(statsMoved, "stats and consumers read the window together").toBe(consumersMoved)
  expect(blockedMoved, "the window's blocked count is read with the window").toBe(consumersMoved && stored?.counted === true)
  return consumersMoved
})

const consoleRollupRows = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(sql<{ n: number }>`
    SELECT ((SELECT count(*) FROM console_rollup_days) + (SELECT count(*) FROM console_agent_daily)
          + (SELECT count(*) FROM console_revenue_hourly))::int AS n`, (rows) => rows[0]?.n ?? 0))

const runRollup = Effect.flatMap(JobRunner, (runner) => runner.run("rollup"))

layer(TestLayer, { excludeTestServices: true })("console figures are always true", (it) => {
  it.effect("payments over the last three days, before the rollup job ever ran: read raw, requests write nothing", () =>
    Effect.gen(function*() {
      yield* insertVendor("tv", ["tv-g1", "tv-g2"])
      yield* insertVendor("tw", ["tw-g1"])
      yield* ingest(600, start - 3 * DAY, start - 60_000)
      yield* ingestBlocked(120, start - 3 * DAY, start - 60_000)
      const expected = yield* expectTrue("before any rollup")
      expect((expected.revenue as ReadonlyArray<unknown>).length).toBe(2)
      expect(expected.blocked).toBeGreaterThan(0)
      expect(yield* consoleRollupRows, "GET requests never build rollups").toBe(0)
    }))

  it.effect("after the rollup job: finished days come from the job's rollups, figures unchanged", () =>
    Effect.gen(function*() {
      const report = yield* runRollup
      expect(report.status, report.summary).toBe("ok")
      expect(yield* consoleRollupRows).toBeGreaterThan(0)
      yield* expectTrue("after the rollup job")
      // Proof the clean days are read from the rollups: damage them, and the figures move.
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE console_revenue_hourly SET payments = payments + 1000
                  WHERE (gateway_id, hour, asset) IN (SELECT gateway_id, hour, asset FROM console_revenue_hourly
                                                       WHERE gateway_id = 'tv-g1' LIMIT 1)`
      const damaged = (yield* get(`/v1/vendor/stats?from=${from}&to=${to}`))["payments"] as number
      const payments = (yield* recomputed).revenue.reduce((n, r) => n + Number(r["payments"]), 0)
      expect(damaged).toBe(payments + 1000)
      yield* sql`UPDATE console_revenue_hourly SET payments = payments - 1000 WHERE payments > 1000`
      expect(yield* windowIsRead, "the default range reads the consumers window").toBe(true)
    }))

  it.effect("late payments into rolled-up days count at once, before the job re-rolls them", () =>
    Effect.gen(function*() {
      const dayStart = Math.floor(start / DAY) * DAY
      yield* ingest(150, dayStart - 2 * DAY, dayStart - DAY)
      const sql = yield* SqlClient.SqlClient
      const [marks] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM rollup_dirty`
      expect(marks?.n, "ingest marked the late hours dirty").toBeGreaterThan(0)
      yield* expectTrue("late payments, job not run")
      expect(yield* windowIsRead, "a window with late payments not folded in is not read").toBe(false)
    }))

  it.effect("while the rollup job runs, and after it", () =>
    Effect.gen(function*() {
      const dayStart = Math.floor(start / DAY) * DAY
      yield* ingest(150, dayStart - 3 * DAY, dayStart - 2 * DAY)
      const job = yield* Effect.fork(runRollup)
      let checks = 0
      while (checks < 3 || (yield* Fiber.poll(job))._tag === "None") {
        yield* expectTrue(`while the job runs (check ${++checks})`)
        if (checks > 200) break
      }
      const report = yield* Fiber.join(job)
      expect(report.status, report.summary).toBe("ok")
      yield* expectTrue("after the second run")
      const sql = yield* SqlClient.SqlClient
      expect(yield* sql`SELECT * FROM rollup_dirty`).toEqual([])
      expect(yield* windowIsRead, "the job rebuilt the window with the late payments: read again").toBe(true)
    }))

  it.effect("late blocked requests alone into rolled-up days: counted at once, the window unread until the job folds them in", () =>
    Effect.gen(function*() {
      const dayStart = Math.floor(start / DAY) * DAY
      expect(yield* windowIsRead).toBe(true)
      yield* ingestBlocked(30, dayStart - 2 * DAY, dayStart - DAY)
      yield* expectTrue("late blocked requests, job not run")
      expect(yield* windowIsRead, "a window with late blocked requests not folded in is not read").toBe(false)
      const report = yield* runRollup
      expect(report.status, report.summary).toBe("ok")
      expect(yield* windowIsRead, "the job rebuilt the window's blocked count").toBe(true)
      yield* expectTrue("late blocked requests folded in")
    }))

  it.effect("payments today, and a vendor's new gateway, with a built window", () =>
    Effect.gen(function*() {
      // Today's payments are the window's raw tail: new agents and agents of the window.
      yield* ingest(90, Math.floor(Date.now() / DAY) * DAY, Date.now() - 1_000)
      yield* ingestBlocked(20, Math.floor(Date.now() / DAY) * DAY, Date.now() - 1_000)
      yield* expectTrue("payments and blocked requests today")
      expect(yield* windowIsRead).toBe(true)
      // Another gateway for tv: the window was built without it, so it is not read any more.
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO gateways (id, vendor_id, name, ingest_key_hash, last_seen_at)
                 VALUES ('tv-g3', 'tv', 'Gateway tv-g3', ${"ab".repeat(32)}, now())`
      expect(yield* windowIsRead, "a window built for other gateways is not read").toBe(false)
      const report = yield* runRollup
      expect(report.status, report.summary).toBe("ok")
      expect(yield* windowIsRead, "the job rebuilt it for the new gateway set").toBe(true)
      yield* expectTrue("after the rebuild")
    }))

  it.effect("retention shorter than the window: the window keeps no blocked count, the rows are counted", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const storedBlocked = Effect.map(
        sql<{ blocked: string | null }>`SELECT blocked::text FROM console_consumer_windows WHERE vendor_id = 'tv'`,
        (rows) => rows[0]?.blocked ?? null
      )
      expect(yield* storedBlocked).not.toBeNull()
      const shortRetention = yield* makeJobRunner({
        ...defaultJobsSettings,
        retention: { ...defaultJobsSettings.retention, blockedDays: Option.some(10) }
      })
      const report = yield* shortRetention.run("rollup")
      expect(report.status, report.summary).toBe("ok")
      expect(yield* storedBlocked, "rebuilt without a count retention could outdate").toBeNull()
      expect(yield* windowIsRead, "the rest of the window is still read").toBe(true)
      yield* expectTrue("window without a blocked count")
      expect((yield* runRollup).status).toBe("ok")
      expect(yield* storedBlocked, "default retention: counted again").not.toBeNull()
      yield* expectTrue("window with its blocked count again")
    }))
})
