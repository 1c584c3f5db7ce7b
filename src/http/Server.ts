/**
 * Process concerns of the HTTP server (listen address, docs, OpenAPI) kept apart from the
 * feature handlers. `listen` is separate so tests can serve the same app on a test server.
 */
import { type HttpApp, HttpApiBuilder, HttpApiScalar, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import { AppSettingsConfig, AppSettingsService, type Role } from "../config/AppConfig.js"
import { HealthHttpLive } from "../health/Http.js"
import { IngestHttpFeature } from "../ingest/Ingest.js"
import { ObservabilityHttpLive } from "../observability/Http.js"
import { withRequestMetrics } from "../observability/HttpMetrics.js"
import { Api } from "./Api.js"

export const listen = Layer.unwrapEffect(
  Effect.map(AppSettingsConfig, (settings) => NodeHttpServer.layer(createServer, { port: settings.port, host: settings.host }))
)

/** Every group's handlers; each needs its feature's services, provided by the root. */
export const ApiLive = HttpApiBuilder.api(Api).pipe(
  Layer.provide(HealthHttpLive),
  Layer.provide(IngestHttpFeature),
  Layer.provide(ObservabilityHttpLive)
)

/** Which role serves which paths; a process without the role answers 404 there. */
const ROLE_PATHS: ReadonlyArray<readonly [Role, string]> = [
  ["receiver", "/v1/ingest"],
  ["api", "/v1/vendor"],
  ["api", "/v1/agent"],
  ["api", "/v1/admin"],
  ["api", "/v1/telemetry"]
]

const roleGate = (app: HttpApp.Default) =>
  Effect.gen(function*() {
    const settings = yield* AppSettingsService
    const request = yield* HttpServerRequest.HttpServerRequest
    const path = request.url.split("?")[0] ?? ""
    const missing = ROLE_PATHS.find(([role, prefix]) => path.startsWith(prefix) && !settings.roles.has(role))
    if (missing === undefined) return yield* withRequestMetrics(app)
    return HttpServerResponse.unsafeJson(
      { error: "role_disabled", message: `this process does not run the ${missing[0]} role (ROLES)` },
      { status: 404 }
    )
  })

/** `Api` plus `/openapi.json` and interactive docs at `/docs`. */
export const HttpAppLive = HttpApiBuilder.serve(roleGate).pipe(
  Layer.provide(HttpApiScalar.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  Layer.provide(ApiLive),
  HttpServer.withLogAddress
)
