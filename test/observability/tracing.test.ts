/**
 * OTLP trace export: the standard variables, traceparent parsing and links, sampling, and the
 * real server process exporting to a real OTLP/HTTP receiver (a node http server here) a span
 * for an HTTP request that continues the request's `traceparent`.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Option, Redacted, Tracer } from "effect"
import * as http from "node:http"
import pg from "pg"
import { hashIngestKey } from "../../src/identity/IngestKey.js"
import { parseTraceparent, sampling, traceparentLinks, TracingLive } from "../../src/observability/Tracing.js"
import { parseHeaders, TracingSettingsConfig } from "../../src/observability/TracingConfig.js"
import { createDatabase, databaseUrl } from "../support/database.js"
import { wireEvent } from "../support/ingestEvents.js"
import { startTestServer } from "../support/server.js"

const withEnv = (env: Record<string, string>) => Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
const PARENT = "00f067aa0ba902b7"

describe("tracing settings", () => {
  it.effect("off unless an endpoint is set; OTEL_SDK_DISABLED wins", () =>
    Effect.gen(function*() {
      expect(yield* withEnv({})(TracingSettingsConfig)).toEqual(Option.none())
      expect(yield* withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" })(TracingSettingsConfig))
        .toEqual(Option.none())
    }))

  it.effect("the standard variables", () =>
    Effect.gen(function*() {
      const base = yield* withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" })(TracingSettingsConfig)
      const b = Option.getOrThrow(base)
      expect(b.url).toBe("http://collector:4318/v1/traces")
      expect(b.protocol).toBe("http/protobuf")
      expect(b.serviceName).toBe("machpay-telemetry")
      expect(b.root).toEqual({ _tag: "AlwaysOn" })
      expect(b.parentBased).toBe(true)
      const full = Option.getOrThrow(yield* withEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://ignored:4318",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://x.example/otlp/spans",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_SERVICE_NAME: "receiver-1",
        OTEL_EXPORTER_OTLP_HEADERS: "Authorization=Bearer%20abc,x-tenant=t1",
        OTEL_TRACES_SAMPLER: "traceidratio",
        OTEL_TRACES_SAMPLER_ARG: "0.25"
      })(TracingSettingsConfig))
      expect(full.url).toBe("https://x.example/otlp/spans")
      expect(full.protocol).toBe("http/json")
      expect(full.serviceName).toBe("receiver-1")
      expect(Redacted.value(full.headers)).toEqual({ authorization: "Bearer abc", "x-tenant": "t1" })
      expect(full.root).toEqual({ _tag: "Ratio", ratio: 0.25 })
      expect(full.parentBased).toBe(false)
    }))

  it.effect("bad values name their variable", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<[Record<string, string>, string]> = [
        [{ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, "OTEL_EXPORTER_OTLP_PROTOCOL"],
        [{ OTEL_TRACES_SAMPLER: "sometimes" }, "OTEL_TRACES_SAMPLER"],
        [{ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" }, "OTEL_TRACES_SAMPLER_ARG"],
        [{ OTEL_EXPORTER_OTLP_HEADERS: "novalue" }, "OTEL_EXPORTER_OTLP_HEADERS"],
        [{ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }, "OTEL_EXPORTER_OTLP_ENDPOINT"]
      ]
      for (const [env, name] of cases) {
        const error = yield* Effect.flip(withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", ...env })(TracingSettingsConfig))
        expect(String(error)).toContain(name)
      }
      expect(Either.isLeft(parseHeaders("a=%E0%A4%A"))).toBe(true)
    }))

  it.effect("unset: TracingLive installs nothing (the default tracer stays)", () =>
    Effect.gen(function*() {
      const before = yield* Effect.tracer
      const after = yield* Effect.tracer.pipe(Effect.provide(TracingLive), withEnv({}))
      expect(after).toBe(before)
    }))
})

describe("traceparent", () => {
  it("parses valid W3C values only", () => {
    const span = Option.getOrThrow(parseTraceparent(`00-${TRACE}-${PARENT}-01`))
    expect([span.traceId, span.spanId, span.sampled]).toEqual([TRACE, PARENT, true])
    expect(Option.getOrThrow(parseTraceparent(`00-${TRACE}-${PARENT}-00`)).sampled).toBe(false)
    for (const bad of [undefined, "", "garbage", `ff-${TRACE}-${PARENT}-01`, `00-${"0".repeat(32)}-${PARENT}-01`,
      `00-${TRACE}-${"0".repeat(16)}-01`, `00-${TRACE}-${PARENT}-01-extra`]) {
      expect(Option.isNone(parseTraceparent(bad))).toBe(true)
    }
  })

  it("a batch gets one link per distinct parent, bounded", () => {
    const other = `00-${"1".repeat(32)}-${"2".repeat(16)}-01`
    const links = traceparentLinks([`00-${TRACE}-${PARENT}-01`, undefined, "bad", `00-${TRACE}-${PARENT}-01`, other])
    expect(links.map((l) => l.span.traceId)).toEqual([TRACE, "1".repeat(32)])
    expect(traceparentLinks(Array.from({ length: 500 }, (_, i) => `00-${TRACE}-${i.toString(16).padStart(16, "1")}-01`), 10))
      .toHaveLength(10)
  })
})

describe("sampling", () => {
  const recording = () => {
    const names: Array<string> = []
    const inner = Tracer.make({
      span(name, parent, context, links, startTime, kind) {
        names.push(name)
        return {
          _tag: "Span", name, spanId: "a".repeat(16), traceId: Option.match(parent, { onNone: () => "b".repeat(32), onSome: (p) => p.traceId }),
          parent, context, status: { _tag: "Started", startTime }, attributes: new Map(), links, sampled: true, kind,
          end() {}, attribute() {}, event() {}, addLinks() {}
        }
      },
      context: (f) => f()
    })
    return { names, inner }
  }
  const remote = (sampled: boolean) => Tracer.externalSpan({ traceId: TRACE, spanId: PARENT, sampled })

  it.effect("parent-based follows the caller's flag; roots follow the root sampler", () =>
    Effect.gen(function*() {
      const { inner, names } = recording()
      const tracer = sampling(inner, { root: { _tag: "AlwaysOff" }, parentBased: true })
      const run = Effect.void.pipe(Effect.withSpan("root"), Effect.zipRight(
        Effect.void.pipe(Effect.withSpan("child"), Effect.withSpan("sampled-parent", { parent: remote(true) }))
      ), Effect.zipRight(Effect.withSpan(Effect.currentSpan, "unsampled-parent", { parent: remote(false) })))
      const unsampled = yield* run.pipe(Effect.withTracer(tracer))
      expect(names).toEqual(["sampled-parent", "child"])
      expect(unsampled.sampled).toBe(false)
      expect(unsampled.traceId).toBe(TRACE)
    }))
})

/** An OTLP/HTTP (JSON) receiver: collects every request's spans and headers. */
const receiver = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly spans: Array<any>; readonly requests: Array<{ headers: http.IncomingHttpHeaders; resource: any }>; readonly raw: Array<{ type: string; body: Buffer }>; readonly server: http.Server }>((resume) => {
    const spans: Array<any> = []
    const requests: Array<{ headers: http.IncomingHttpHeaders; resource: any }> = []
    const raw: Array<{ type: string; body: Buffer }> = []
    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        raw.push({ type: String(req.headers["content-type"]), body: Buffer.concat(chunks) })
        if (req.url === "/v1/traces" && String(req.headers["content-type"]).includes("json")) {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
          for (const rs of body.resourceSpans ?? []) {
            requests.push({ headers: req.headers, resource: rs.resource })
            for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []))
          }
        }
        res.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address ? address.port : 0
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, spans, requests, raw, server }))
    })
  }),
  ({ server }) => Effect.async<void>((resume) => {
    server.close(() => resume(Effect.void))
  })
)

describe("export from the real server", () => {
  it.scopedLive("an HTTP request's traceparent is continued and its span reaches the OTLP receiver", () =>
    Effect.gen(function*() {
      const otlp = yield* receiver
      const name = yield* createDatabase("trace")
      yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* startTestServer({
          databaseUrl: databaseUrl(name),
          env: {
            OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
            OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
            OTEL_SERVICE_NAME: "machpay-test",
            OTEL_EXPORTER_OTLP_HEADERS: "x-otlp-token=s3cret"
          }
        })
        const response = yield* Effect.promise(() =>
          fetch(`${server.url}/health`, { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } }).then((r) => r.text()))
        expect(response).toContain("status")
        // Closing the scope sends SIGTERM: the exporter flushes what it holds on shutdown.
      }))
      const traced = otlp.spans.filter((s) => s.traceId === TRACE)
      const span = traced.find((s) => s.parentSpanId === PARENT)
      expect(span, JSON.stringify(otlp.spans.map((s) => [s.name, s.traceId, s.parentSpanId]))).toBeDefined()
      // The request's own spans hang below it, in the same trace.
      expect(traced.every((s) => s === span || traced.some((p) => p.spanId === s.parentSpanId))).toBe(true)
      expect(span.kind).toBe(2) // SERVER
      expect(JSON.stringify(span.attributes)).toContain("/health")
      expect(otlp.requests[0]?.headers["x-otlp-token"]).toBe("s3cret")
      expect(JSON.stringify(otlp.requests[0]?.resource)).toContain("machpay-test")
    }), 60_000)

  it.scopedLive("the default protocol is protobuf", () =>
    Effect.gen(function*() {
      const otlp = yield* receiver
      const name = yield* createDatabase("trace")
      yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* startTestServer({ databaseUrl: databaseUrl(name), env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${otlp.url}/custom/path` } })
        yield* Effect.promise(() => fetch(`${server.url}/health`, { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } }).then((r) => r.text()))
      }))
      const body = Buffer.concat(otlp.raw.filter((r) => r.type === "application/x-protobuf").map((r) => r.body))
      expect(otlp.raw.map((r) => r.type)).toContain("application/x-protobuf")
      // trace_id is a 16-byte field in the protobuf encoding
      expect(body.includes(Buffer.from(TRACE, "hex"))).toBe(true)
    }), 60_000)

  it.scopedLive("a CloudEvent's traceparent links its admission and its commit to the gateway's trace", () =>
    Effect.gen(function*() {
      const otlp = yield* receiver
      const name = yield* createDatabase("trace")
      const EVENT_TRACE = "5ce0e9a56015fec5aadfa328ae398115"
      const EVENT_PARENT = "ab1e9a5c0ffee123"
      const key = `mpk_live_${"t".repeat(43)}`
      const reply = yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* startTestServer({
          databaseUrl: databaseUrl(name),
          env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }
        })
        // The server has migrated the database by the time it is ready.
        yield* Effect.promise(async () => {
          const client = new pg.Client({ connectionString: databaseUrl(name) })
          await client.connect()
          await client.query(`INSERT INTO vendors (id, name) VALUES ('v-trace', 'trace')`)
          await client.query(
            `INSERT INTO gateways (id, vendor_id, name, ingest_key_hash, ingest_key_prefix) VALUES ('gw-trace', 'v-trace', 'gw-trace', $1, $2)`,
            [hashIngestKey(key), key.slice(0, 12)]
          )
          await client.end()
        })
        const event = {
          ...wireEvent("PaymentAuthorized", { id: "traced-payment-1", time: new Date(Date.now() - 1000).toISOString(), gateway: "gw-trace" }),
          traceparent: `00-${EVENT_TRACE}-${EVENT_PARENT}-01`
        }
        return yield* Effect.promise(() =>
          fetch(`${server.url}/v1/ingest`, {
            method: "POST",
            headers: { authorization: `Bearer ${key}`, "content-type": "application/cloudevents+json", prefer: "wait=commit" },
            body: JSON.stringify(event)
          }).then(async (r) => ({ status: r.status, text: await r.text() })))
      }))
      expect(reply.text).toContain("accepted")
      const linked = (spanName: string) =>
        otlp.spans.filter((s) =>
          s.name === spanName && (s.links ?? []).some((l: any) => l.traceId === EVENT_TRACE && l.spanId === EVENT_PARENT))
      const names = JSON.stringify(otlp.spans.map((s) => [s.name, (s.links ?? []).map((l: any) => l.traceId)]))
      expect(linked("Ingest.admit"), names).toHaveLength(1)
      // The span of the flush that committed the event: the gateway's trace id is on it.
      expect(linked("Ingest.flush"), names).toHaveLength(1)
      expect(linked("Ingest.publish"), names).toHaveLength(1)
    }), 60_000)
})
