/** Request duration histogram for every HTTP request, by method, route shape and status. */
import { type HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Metric, MetricBoundaries, MetricLabel } from "effect"

const duration = Metric.histogram(
  "http_request_duration_seconds",
  MetricBoundaries.fromIterable([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
  "HTTP request duration by method, route and status"
)

/** Ids in paths become `:id` so the label set stays bounded. */
const routeShape = (url: string): string =>
  (url.split("?")[0] ?? "/")
    .split("/")
    .map((segment) => (/^\d+$/.test(segment) || /^[0-9a-f-]{16,}$/i.test(segment) ? ":id" : segment))
    .join("/")

export const withRequestMetrics = <E, R>(app: HttpApp.HttpApp<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const started = performance.now()
    const record = (status: number) =>
      Metric.update(
        Metric.taggedWithLabels(duration, [
          MetricLabel.make("method", request.method),
          MetricLabel.make("route", routeShape(request.url)),
          MetricLabel.make("status", String(status))
        ]),
        (performance.now() - started) / 1000
      )
    return yield* app.pipe(
      Effect.tap((response) => record(response.status)),
      Effect.tapErrorCause(() => record(500))
    )
  })
