/**
 * The standard OpenTelemetry variables for trace export, read through Effect `Config`.
 * Tracing is on only when an OTLP endpoint is set (and `OTEL_SDK_DISABLED` is not `true`).
 * See docs/tracing.md.
 */
import { Config, ConfigError, Either, Option, Redacted } from "effect"

export type Sampler =
  | { readonly _tag: "AlwaysOn" }
  | { readonly _tag: "AlwaysOff" }
  | { readonly _tag: "Ratio"; readonly ratio: number }

export interface TracingSettings {
  /** Full URL the spans are POSTed to. */
  readonly url: string
  readonly protocol: "http/protobuf" | "http/json"
  readonly serviceName: string
  readonly headers: Redacted.Redacted<Record<string, string>>
  /** Applied to spans without a parent, and to all spans when not `parentBased`. */
  readonly root: Sampler
  /** A span with a parent follows the parent's sampled flag (e.g. a `traceparent` `-01`). */
  readonly parentBased: boolean
}

const optional = (name: string) =>
  Config.string(name).pipe(Config.map((s) => s.trim()), Config.option, Config.map(Option.filter((s) => s !== "")))

const invalid = (name: string, message: string): Either.Either<never, ConfigError.ConfigError> =>
  Either.left(ConfigError.InvalidData([name], message))

/** `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, or `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces` (the spec's rule). */
const urlConfig = Config.all([optional("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), optional("OTEL_EXPORTER_OTLP_ENDPOINT")]).pipe(
  Config.map(([traces, base]) =>
    Option.orElse(traces, () => Option.map(base, (b) => `${b.replace(/\/+$/, "")}/v1/traces`))
  ),
  Config.mapOrFail((url): Either.Either<Option.Option<string>, ConfigError.ConfigError> => {
    if (Option.isNone(url)) return Either.right(url)
    try {
      const parsed = new URL(url.value)
      return parsed.protocol === "http:" || parsed.protocol === "https:"
        ? Either.right(url)
        : invalid("OTEL_EXPORTER_OTLP_ENDPOINT", `must be an http(s) URL, got "${url.value}"`)
    } catch {
      return invalid("OTEL_EXPORTER_OTLP_ENDPOINT", `must be an http(s) URL, got "${url.value}"`)
    }
  })
)

const protocolConfig = Config.all([optional("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), optional("OTEL_EXPORTER_OTLP_PROTOCOL")]).pipe(
  Config.mapOrFail(([traces, any]): Either.Either<TracingSettings["protocol"], ConfigError.ConfigError> => {
    const value = Option.getOrElse(Option.orElse(traces, () => any), () => "http/protobuf")
    return value === "http/protobuf" || value === "http/json"
      ? Either.right(value)
      : invalid("OTEL_EXPORTER_OTLP_PROTOCOL", `must be http/protobuf or http/json (grpc is not supported), got "${value}"`)
  })
)

/** `k1=v1,k2=v2`, values percent-decoded (W3C baggage format, as the spec says). */
export const parseHeaders = (text: string): Either.Either<Record<string, string>, string> => {
  const headers: Record<string, string> = {}
  for (const part of text.split(",")) {
    if (part.trim() === "") continue
    const eq = part.indexOf("=")
    if (eq <= 0) return Either.left(`expected key=value pairs separated by commas`)
    try {
      headers[part.slice(0, eq).trim().toLowerCase()] = decodeURIComponent(part.slice(eq + 1).trim())
    } catch {
      return Either.left(`a value is not valid percent-encoding`)
    }
  }
  return Either.right(headers)
}

const headersConfig = Config.all([optional("OTEL_EXPORTER_OTLP_HEADERS"), optional("OTEL_EXPORTER_OTLP_TRACES_HEADERS")]).pipe(
  Config.mapOrFail(([general, traces]) => {
    const merged: Record<string, string> = {}
    for (const [name, value] of [["OTEL_EXPORTER_OTLP_HEADERS", general], ["OTEL_EXPORTER_OTLP_TRACES_HEADERS", traces]] as const) {
      if (Option.isNone(value)) continue
      const parsed = parseHeaders(value.value)
      if (Either.isLeft(parsed)) return invalid(name, parsed.left)
      Object.assign(merged, parsed.right)
    }
    return Either.right(Redacted.make(merged))
  })
)

const samplerConfig = Config.all([optional("OTEL_TRACES_SAMPLER"), optional("OTEL_TRACES_SAMPLER_ARG")]).pipe(
  Config.mapOrFail(([name, arg]) => {
    const sampler = Option.getOrElse(name, () => "parentbased_always_on")
    const ratio = Option.match(arg, { onNone: () => 1, onSome: Number })
    if (!(ratio >= 0 && ratio <= 1)) return invalid("OTEL_TRACES_SAMPLER_ARG", `must be a number between 0 and 1`)
    const parentBased = sampler.startsWith("parentbased_")
    switch (sampler.replace(/^parentbased_/, "")) {
      case "always_on":
        return Either.right({ root: { _tag: "AlwaysOn" } as Sampler, parentBased })
      case "always_off":
        return Either.right({ root: { _tag: "AlwaysOff" } as Sampler, parentBased })
      case "traceidratio":
        return Either.right({ root: { _tag: "Ratio", ratio } as Sampler, parentBased })
      default:
        return invalid("OTEL_TRACES_SAMPLER", `must be always_on, always_off, traceidratio or parentbased_<one of those>, got "${sampler}"`)
    }
  })
)

/** `None` when tracing is off: no endpoint, or `OTEL_SDK_DISABLED=true`. */
export const TracingSettingsConfig: Config.Config<Option.Option<TracingSettings>> = Config.all({
  disabled: Config.boolean("OTEL_SDK_DISABLED").pipe(Config.withDefault(false)),
  url: urlConfig,
  protocol: protocolConfig,
  serviceName: Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault("machpay-telemetry")),
  headers: headersConfig,
  sampler: samplerConfig
}).pipe(
  Config.map(({ disabled, headers, protocol, sampler, serviceName, url }) =>
    disabled ? Option.none() : Option.map(url, (url): TracingSettings => ({
      url,
      protocol,
      serviceName,
      headers,
      root: sampler.root,
      parentBased: sampler.parentBased
    }))
  )
)
