/**
 * The ops kit: deploy/alerts.yml (Prometheus rules), the Grafana dashboard and docs/operations.md.
 *
 * - `promtool test rules deploy/alerts.test.yml`: every alert fires on the failure it is for and
 *   not on a healthy neighbour (promtool comes from Debian's `prometheus` package, which .ci/run
 *   installs; outside CI a machine without it skips that one test, in CI it fails).
 * - every metric and label every rule and every dashboard panel reads exists on the `/metrics`
 *   of the real server process after a little traffic (ingest, a live stream, a console request),
 *   so a renamed metric breaks this test instead of silently blinding an alert; metrics of the
 *   NATS modes come from a second process with `REALTIME_BUS=nats` and `INGEST_DURABILITY=jetstream`;
 * - every alert has its runbook entry and a promtool case that makes it fire.
 */
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Context, Effect, Layer, Redacted, Schedule } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import { parse } from "yaml"
import { ROOT } from "../../scripts/build.js"
import { hashIngestKey } from "../../src/identity/IngestKey.js"
import { claimsFor } from "../../src/identity/Jwt.js"
import { signHs256 } from "../../testkit/jwt.js"
import { makeTestDatabase, TestDatabaseInfo } from "../support/database.js"
import { wireBatch } from "../support/ingestEvents.js"
import { startNats } from "../support/nats.js"
import { startTestServer } from "../support/server.js"
import { parsePromQL, type Selector, substituteGrafanaVariables } from "./promql.js"

interface Rule {
  readonly alert: string
  readonly expr: string
  readonly annotations: Readonly<Record<string, string>>
}

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8")

const rules: ReadonlyArray<Rule> = (parse(read("deploy/alerts.yml")) as { groups: Array<{ rules: Array<Rule> }> })
  .groups.flatMap((g) => g.rules)

interface Panel {
  readonly title?: string
  readonly targets?: ReadonlyArray<{ readonly expr: string }>
}
const dashboard = JSON.parse(read("deploy/grafana/dashboards/machpay-telemetry.json")) as {
  readonly panels: ReadonlyArray<Panel>
  readonly templating: { readonly list: ReadonlyArray<{ readonly query: { readonly query: string } }> }
}
const panelExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title ?? "?", expr: substituteGrafanaVariables(t.expr) })))

/** Series Prometheus makes itself (per scrape target), and labels it attaches to every series. */
const PROMETHEUS_SERIES = new Set(["up"])
const TARGET_LABELS = new Set(["instance", "job"])

const promtool = spawnSync("promtool", ["--version"]).status === 0

// --- a live server with a little traffic ------------------------------------------------------

const SECRET = randomBytes(32).toString("base64url")
const KEY = `mpk_live_${randomBytes(32).toString("base64url")}`

class LiveMetrics extends Context.Tag("Test/LiveMetrics")<LiveMetrics, {
  /** Sample name → label names seen on it. */
  readonly series: ReadonlyMap<string, ReadonlySet<string>>
}>() {}

const scrape = (text: string): Map<string, Set<string>> => {
  const series = new Map<string, Set<string>>()
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z_:][\w:]*)(?:\{([^}]*)\})? /.exec(line)
    if (m === null) continue
    const labels = series.get(m[1]!) ?? new Set<string>()
    for (const l of (m[2] ?? "").matchAll(/([A-Za-z_]\w*)="/g)) labels.add(l[1]!)
    series.set(m[1]!, labels)
  }
  return series
}

const LiveMetricsLive = Layer.scoped(
  LiveMetrics,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO vendors (id, name) VALUES ('v-ops', 'Ops vendor')`
    yield* sql`INSERT INTO gateways (id, vendor_id, name, ingest_key_hash, ingest_key_prefix)
               VALUES ('gw-ops', 'v-ops', 'gw-ops', ${hashIngestKey(KEY)}, ${KEY.slice(0, 12)})`
    const databaseUrl = Redacted.value((yield* TestDatabaseInfo).url)
    const server = yield* startTestServer({ databaseUrl, env: { JWT_SECRET: SECRET } })
    const token = signHs256(claimsFor({ role: "vendor", vendorId: "v-ops" }, { now: Date.now() / 1000, ttlSeconds: 600 }), SECRET)

    // A live stream that sees a committed event (commit → send latency is observed on delivery).
    const stream = new AbortController()
    yield* Effect.addFinalizer(() => Effect.sync(() => stream.abort()))
    const response = yield* Effect.promise(() =>
      fetch(`${server.url}/v1/telemetry/live?topics=vendor:gw-ops`, { headers: { authorization: `Bearer ${token}` }, signal: stream.signal })
    )
    expect(response.status).toBe(200)
    const reader = response.body!.getReader()
    const delivered = Effect.promise(async () => {
      let text = ""
      while (!text.includes("\nid: ") && !text.startsWith("id: ")) {
        const chunk = await reader.read()
        if (chunk.done) break
        text += new TextDecoder().decode(chunk.value)
      }
      return text
    })

    const now = new Date().toISOString()
    const ingest = yield* Effect.promise(() =>
      fetch(`${server.url}/v1/ingest`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/cloudevents-batch+json", prefer: "wait=commit" },
        body: JSON.stringify(wireBatch("ops", now, "gw-ops"))
      }).then(async (r) => ({ status: r.status, text: await r.text() }))
    )
    expect(ingest.status, ingest.text).toBe(200)
    expect(yield* delivered.pipe(Effect.timeout("20 seconds"))).toContain("id: ")

    // A console request and a refused stream (400: no topics).
    const stats = yield* Effect.promise(() => fetch(`${server.url}/v1/vendor/stats`, { headers: { authorization: `Bearer ${token}` } }))
    expect(stats.status).toBe(200)
    const refused = yield* Effect.promise(() => fetch(`${server.url}/v1/telemetry/live?topics=`))
    expect(refused.status).toBe(400)

    // Gauges sampled in the background (health every 15 s, jobs after their first run).
    const text = yield* Effect.promise(() => fetch(`${server.url}/metrics`).then((r) => r.text())).pipe(
      Effect.filterOrFail((t) => t.includes("health_component_up{") && t.includes("rollup_watermark_timestamp_seconds")),
      Effect.retry(Schedule.spaced("500 millis").pipe(Schedule.upTo("30 seconds")))
    )
    // The NATS modes' metrics (bus and ingest stream), from a receiver running them, after one request.
    const nats = yield* startNats
    const natsServer = yield* startTestServer({
      databaseUrl,
      env: { JWT_SECRET: SECRET, ROLES: "receiver", REALTIME_BUS: "nats", INGEST_DURABILITY: "jetstream", NATS_URL: nats.url }
    })
    const viaStream = yield* Effect.promise(() =>
      fetch(`${natsServer.url}/v1/ingest`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/cloudevents-batch+json" },
        body: JSON.stringify(wireBatch("ops-js", now, "gw-ops"))
      }).then(async (r) => ({ status: r.status, text: await r.text() }))
    )
    expect(viaStream.status, viaStream.text).toBe(202)
    const natsText = yield* Effect.promise(() => fetch(`${natsServer.url}/metrics`).then((r) => r.text())).pipe(
      Effect.filterOrFail((t) => t.includes("ingest_stream_consumed_total") && t.includes("realtime_bus_published_total")),
      Effect.retry(Schedule.spaced("500 millis").pipe(Schedule.upTo("30 seconds")))
    )
    const series = scrape(text)
    for (const [name, labels] of scrape(natsText)) {
      const known = series.get(name) ?? new Set<string>()
      for (const l of labels) known.add(l)
      series.set(name, known)
    }
    return { series }
  }).pipe(Effect.orDie)
).pipe(Layer.provide(makeTestDatabase()))

/** Selectors whose metric is not on the live server, or that match on a label it never has. */
const missing = (selectors: ReadonlyArray<Selector>, live: ReadonlyMap<string, ReadonlySet<string>>): Array<string> =>
  selectors.flatMap((s) => {
    if (PROMETHEUS_SERIES.has(s.metric)) return []
    const labels = live.get(s.metric)
    if (labels === undefined) return [`metric ${s.metric}`]
    return s.labels.filter((l) => !TARGET_LABELS.has(l) && !labels.has(l)).map((l) => `label ${l} on ${s.metric}`)
  })

layer(LiveMetricsLive, { excludeTestServices: true, timeout: "120 seconds" })("alerts and dashboard against a live /metrics", (it) => {
  it.effect("every rule parses and reads only metrics and labels the server exports", () =>
    Effect.gen(function*() {
      const { series } = yield* LiveMetrics
      expect(rules.length).toBeGreaterThan(10)
      for (const rule of rules) {
        const parsed = parsePromQL(rule.expr)
        expect(parsed.errors, `${rule.alert}: syntax`).toEqual([])
        expect(parsed.selectors.length, `${rule.alert}: reads no metric`).toBeGreaterThan(0)
        expect(missing(parsed.selectors, series), rule.alert).toEqual([])
      }
    }))

  it.effect("every dashboard panel parses and reads only metrics and labels the server exports", () =>
    Effect.gen(function*() {
      const { series } = yield* LiveMetrics
      expect(panelExprs.length).toBeGreaterThan(20)
      const variables = dashboard.templating.list.map((v) => ({ where: "variable", expr: /label_values\((\w+)/.exec(v.query.query)![1]! }))
      for (const { where, expr } of [...panelExprs, ...variables]) {
        const parsed = parsePromQL(expr)
        expect(parsed.errors, `${where}: syntax in ${expr}`).toEqual([])
        expect(missing(parsed.selectors, series), `${where}: ${expr}`).toEqual([])
      }
    }))

  it.effect("a metric the server does not export is reported (the check is not vacuous)", () =>
    Effect.gen(function*() {
      const { series } = yield* LiveMetrics
      expect(missing(parsePromQL('rate(ingest_events_commited_total{type="x"}[5m])').selectors, series)).toEqual([
        "metric ingest_events_commited_total"
      ])
      expect(missing(parsePromQL('ingest_queue_depth{route="x"}').selectors, series)).toEqual(["label route on ingest_queue_depth"])
    }))
})

// --- rules, tests and runbook ------------------------------------------------------------------

layer(Layer.empty)("alert rules, their promtool tests and the runbook", (it) => {
  it.effect.skipIf(!promtool && process.env["CI"] === undefined)("promtool: the rules are valid and every unit test passes", () =>
    Effect.sync(() => {
      const run = (args: ReadonlyArray<string>) => execFileSync("promtool", args, { cwd: path.join(ROOT, "deploy"), encoding: "utf8" })
      expect(run(["check", "rules", "alerts.yml"])).toContain(`SUCCESS: ${rules.length} rules found`)
      expect(run(["test", "rules", "alerts.test.yml"])).toContain("SUCCESS")
    }))

  it.effect("every alert has a promtool case in which it fires", () =>
    Effect.sync(() => {
      const tests = parse(read("deploy/alerts.test.yml")) as {
        tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts?: Array<unknown> }> }>
      }
      const firing = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((c) => (c.exp_alerts ?? []).length > 0).map((c) => c.alertname)))
      expect(rules.map((r) => r.alert).filter((a) => !firing.has(a))).toEqual([])
    }))

  it.effect("every alert links its runbook entry in docs/operations.md, and every entry says how to confirm and what to do", () =>
    Effect.sync(() => {
      const runbook = read("docs/operations.md")
      const sections = new Map(
        runbook.split(/^### /m).slice(1).map((s) => [s.slice(0, s.indexOf("\n")).trim(), s] as const)
      )
      for (const rule of rules) {
        expect(rule.annotations["runbook"], rule.alert).toBe(`docs/operations.md#${rule.alert.toLowerCase()}`)
        const section = sections.get(rule.alert)
        expect(section, `no "### ${rule.alert}" in docs/operations.md`).toBeDefined()
        expect(section, rule.alert).toMatch(/\*\*Confirm\*\*/)
        expect(section, rule.alert).toMatch(/\*\*Do\*\*/)
      }
    }))

  it.effect("the compose Prometheus loads the rules and Grafana is provisioned with the dashboard", () =>
    Effect.sync(() => {
      const prometheus = parse(read("deploy/prometheus.yml")) as { rule_files: Array<string> }
      const compose = parse(read("docker-compose.yml"), { merge: true }) as {
        services: Record<string, { volumes?: Array<string>; depends_on?: unknown }>
      }
      const mounts = (service: string) =>
        new Map((compose.services[service]?.volumes ?? []).map((v) => [v.split(":")[1]!, v.split(":")[0]!] as const))
      for (const file of prometheus.rule_files) expect(mounts("prometheus").get(file), file).toBe("./deploy/alerts.yml")
      const grafana = mounts("grafana")
      expect(grafana.get("/etc/grafana/provisioning")).toBe("./deploy/grafana/provisioning")
      const provider = parse(read("deploy/grafana/provisioning/dashboards/machpay.yml")) as {
        providers: Array<{ options: { path: string } }>
      }
      expect(grafana.get(provider.providers[0]!.options.path)).toBe("./deploy/grafana/dashboards")
      const datasource = parse(read("deploy/grafana/provisioning/datasources/prometheus.yml")) as {
        datasources: Array<{ uid: string; url: string }>
      }
      expect(datasource.datasources[0]).toMatchObject({ uid: "prometheus", url: "http://prometheus:9090" })
      // Every panel, target and variable uses the provisioned data source (the dashboard's own uid aside).
      const uids = new Set([...JSON.stringify(dashboard).matchAll(/"uid":"([^"]+)"/g)].map((m) => m[1]))
      expect([...uids].sort()).toEqual(["machpay-telemetry", "prometheus"])
    }))
})
