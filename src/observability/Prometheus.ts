/**
 * Effect metrics → OpenTelemetry → Prometheus text. The exporter's own HTTP server is not
 * started: `/metrics` is served by our API (one port to scrape, same auth story).
 */
import * as Metrics from "@effect/opentelemetry/Metrics"
import * as Resource from "@effect/opentelemetry/Resource"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { Context, Effect, Layer } from "effect"
import { AppSettingsService } from "../config/AppConfig.js"

export class PrometheusScrape extends Context.Tag("Observability/PrometheusScrape")<PrometheusScrape, {
  /** The current metrics in Prometheus text exposition format 0.0.4. */
  readonly render: Effect.Effect<string>
}>() {}

export const PrometheusLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const settings = yield* AppSettingsService
    const exporter = new PrometheusExporter({ preventServerStart: true })
    const serializer = new PrometheusSerializer()
    const scrape = Layer.succeed(PrometheusScrape, {
      render: Effect.promise(() => exporter.collect()).pipe(
        Effect.map(({ resourceMetrics }) => serializer.serialize(resourceMetrics))
      )
    })
    return Layer.merge(scrape, Metrics.layer(() => exporter)).pipe(
      Layer.provide(Resource.layer({ serviceName: "machpay-telemetry", serviceVersion: settings.version }))
    )
  })
)
