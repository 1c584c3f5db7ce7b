/**
 * OTLP/HTTP trace export, installed only when an OTLP endpoint is configured (TracingConfig.ts);
 * otherwise this layer is empty and Effect keeps its default in-process tracer, exactly as
 * before. Uses `@effect/opentelemetry`'s own Otlp tracer (no OpenTelemetry SDK on the hot
 * path): spans are buffered and POSTed in batches every 5 s, and once more on shutdown.
 *
 * HTTP requests continue an incoming `traceparent` by themselves (the platform's HTTP tracer
 * middleware reads it). For CloudEvents, `traceparentLink` / `traceparentLinks` turn each
 * event's `traceparent` extension into span links (see docs/tracing.md).
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import { type ConfigError, Context, Effect, type Exit, Layer, Option, Redacted, Tracer } from "effect"
import { AppSettingsService } from "../config/AppConfig.js"
import { type Sampler, type TracingSettings, TracingSettingsConfig } from "./TracingConfig.js"

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/

/** A W3C `traceparent` as the remote span it names; `None` when malformed or all-zero. */
export const parseTraceparent = (value: string | undefined | null): Option.Option<Tracer.ExternalSpan> => {
  const match = value === undefined || value === null ? null : TRACEPARENT.exec(value.trim().toLowerCase())
  if (match === null) return Option.none()
  const [, version, traceId = "", spanId = "", flags = "00", rest] = match
  // Version ff is invalid; version 00 has nothing after the flags.
  if (version === "ff" || (version === "00" && rest !== undefined)) return Option.none()
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return Option.none()
  return Option.some(Tracer.externalSpan({ traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 }))
}

/**
 * Options for spans on the ingest path (per request, per flush): no call-site capture. By
 * default each `Effect.withSpan` call takes a stack trace (an `Error`) to attach to the span if
 * it fails; for these the call site is always the same line, and the capture was a few percent
 * of the CPU of a small request.
 */
export const HOT_SPAN = { captureStackTrace: false } as const

/** A link from the current span to the span a CloudEvent's `traceparent` names. */
export const traceparentLink = (value: string | undefined | null): Option.Option<Tracer.SpanLink> =>
  Option.map(parseTraceparent(value), (span) => ({ _tag: "SpanLink", span, attributes: {} }))

/**
 * Links for a batch of events: one per distinct trace, at most `max` (a flush of 1,000 events
 * from one gateway batch usually shares a handful of traces).
 */
export const traceparentLinks = (values: Iterable<string | undefined | null>, max = 128): ReadonlyArray<Tracer.SpanLink> => {
  const seen = new Set<string>()
  const links: Array<Tracer.SpanLink> = []
  for (const value of values) {
    if (links.length >= max) break
    const link = traceparentLink(value)
    if (Option.isNone(link) || seen.has(link.value.span.spanId)) continue
    seen.add(link.value.span.spanId)
    links.push(link.value)
  }
  return links
}

// ---------------------------------------------------------------------------------------------
// Sampling. The Otlp tracer exports every span; this wrapper decides first and hands unsampled
// spans a no-op span that still carries ids (so `traceparent` propagation says `-00`).

const randomHex = (length: number): string => {
  let out = ""
  while (out.length < length) out += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, "0")
  return out.slice(0, length)
}

class UnsampledSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly sampled = false
  readonly spanId = randomHex(16)
  readonly traceId: string
  readonly attributes = new Map<string, unknown>()
  readonly links: Array<Tracer.SpanLink>
  status: Tracer.SpanStatus
  constructor(
    readonly name: string,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly context: Context.Context<never>,
    links: ReadonlyArray<Tracer.SpanLink>,
    startTime: bigint,
    readonly kind: Tracer.SpanKind
  ) {
    this.traceId = Option.match(parent, { onNone: () => randomHex(32), onSome: (p) => p.traceId })
    this.links = [...links]
    this.status = { _tag: "Started", startTime }
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>) {
    if (this.status._tag === "Started") this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
  }
  attribute(key: string, value: unknown) {
    this.attributes.set(key, value)
  }
  event() {}
  addLinks(links: ReadonlyArray<Tracer.SpanLink>) {
    this.links.push(...links)
  }
}

const decideRoot = (sampler: Sampler): boolean =>
  sampler._tag === "AlwaysOn" ? true : sampler._tag === "AlwaysOff" ? false : Math.random() < sampler.ratio

export const sampling = (inner: Tracer.Tracer, settings: Pick<TracingSettings, "root" | "parentBased">): Tracer.Tracer =>
  Tracer.make({
    span(name, parent, context, links, startTime, kind, options) {
      const sampled = settings.parentBased && Option.isSome(parent) ? parent.value.sampled : decideRoot(settings.root)
      return sampled
        ? inner.span(name, parent, context, links, startTime, kind, options)
        : new UnsampledSpan(name, parent, context, links, startTime, kind)
    },
    context: (f, fiber) => inner.context(f, fiber)
  })

/** The OTLP tracer for `settings`, flushed when the layer's scope closes. */
export const makeTracer = (settings: TracingSettings, serviceVersion?: string) =>
  OtlpTracer.make({
    url: settings.url,
    resource: { serviceName: settings.serviceName, ...(serviceVersion === undefined ? {} : { serviceVersion }) },
    headers: Redacted.value(settings.headers)
  }).pipe(
    Effect.map((tracer) => sampling(tracer, settings)),
    Effect.provide(settings.protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf),
    Effect.provide(FetchHttpClient.layer)
  )

/** Installs the OTLP tracer when configured; `Layer.empty` (no cost) when not. */
export const TracingLive: Layer.Layer<never, ConfigError.ConfigError> = Layer.unwrapScoped(
  Effect.gen(function*() {
    const settings = yield* TracingSettingsConfig
    if (Option.isNone(settings)) return Layer.empty
    const app = yield* Effect.serviceOption(AppSettingsService)
    const tracer = yield* makeTracer(settings.value, Option.getOrUndefined(Option.map(app, (a) => a.version)))
    yield* Effect.logInfo("exporting traces over OTLP").pipe(
      Effect.annotateLogs({ url: settings.value.url, protocol: settings.value.protocol, service: settings.value.serviceName })
    )
    return Layer.setTracer(tracer)
  })
)
