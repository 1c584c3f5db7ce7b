/**
 * Process concerns of the HTTP server (listen address, docs, OpenAPI) kept apart from the
 * feature handlers. `listen` is separate so tests can serve the same app on a test server.
 */
import { HttpApiBuilder, HttpApiScalar, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import { AppSettingsConfig } from "../config/AppConfig.js"
import { HealthHttpLive } from "../health/Http.js"
import { Api } from "./Api.js"

export const listen = Layer.unwrapEffect(
  Effect.map(AppSettingsConfig, (settings) => NodeHttpServer.layer(createServer, { port: settings.port, host: settings.host }))
)

/** Every group's handlers; each needs its feature's services, provided by the root. */
export const ApiLive = HttpApiBuilder.api(Api).pipe(Layer.provide(HealthHttpLive))

/** `Api` plus `/openapi.json` and interactive docs at `/docs`. */
export const HttpAppLive = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiScalar.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  Layer.provide(ApiLive),
  HttpServer.withLogAddress
)
