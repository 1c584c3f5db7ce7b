/**
 * Request duration histogram for every HTTP request, by method, route template and status. Every
 * label value is a series kept for the process's life, so labels come from bounded sets: the
 * contract's route templates (anything else is "other", e.g. a 404 path) and the methods below.
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerError from "@effect/platform/HttpServerError"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect, Metric, MetricBoundaries, MetricLabel } from "effect"

const duration = Metric.histogram(
  "http_request_duration_seconds",
  MetricBoundaries.fromIterable([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
  "HTTP request duration by method, route and status"
)

const METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])

/**
 * `route` is the matched template (see `http/Routes.ts`), or undefined for "other". A failure
 * is recorded with the status it is answered with (a route not found is a 404, not a 500).
 */
export const withRequestMetrics = <E, R>(
  app: HttpApp.HttpApp<HttpServerResponse.HttpServerResponse, E, R>,
  route: string | undefined
) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const started = performance.now()
    const record = (status: number) =>
      Metric.update(
        Metric.taggedWithLabels(duration, [
          MetricLabel.make("method", METHODS.has(request.method) ? request.method : "other"),
          MetricLabel.make("route", route ?? "other"),
          MetricLabel.make("status", String(status))
        ]),
        (performance.now() - started) / 1000
      )
    return yield* app.pipe(
      Effect.tap((response) => record(response.status)),
      Effect.tapErrorCause((cause) => record(HttpServerError.causeResponseStripped(cause)[0].status))
    )
  })
