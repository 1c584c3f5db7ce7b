/**
 * Process concerns of the HTTP server (listen address, docs, OpenAPI) kept apart from the
 * feature handlers. `listen` is separate so tests can serve the same app on a test server.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiScalar from "@effect/platform/HttpApiScalar"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { NodeHttpServer } from "@effect/platform-node"
import { Duration, Effect, Layer } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { AppSettingsConfig, AppSettingsService } from "../config/AppConfig.js"
import { withRequestMetrics } from "../observability/HttpMetrics.js"
import { DefectsAnsweredLive } from "./Defects.js"
import { matchRoute, roleOf } from "./Routes.js"

/**
 * `server.close()` waits for every connection to end, and keep-alive clients that keep posting
 * (or SSE streams) never let that happen — shutdown would hang. So once closing starts, idle
 * connections are closed as soon as they go idle, and whatever is still open after a short
 * grace period (long responses, SSE streams; clients reconnect elsewhere) is closed too.
 */
const closingServer = (graceMs: number, requestTimeoutMs: number) => () => {
  // Node checks the request timeout every `connectionsCheckingInterval` (30 s by default).
  const server = createServer({ requestTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(requestTimeoutMs / 4))) })
  // The socket listens before the app's handler is attached (the layers in between can take
  // seconds); a request arriving then would hang forever. Answer it 503 until the app is in.
  const starting = (_: IncomingMessage, response: ServerResponse) => {
    response.writeHead(503, { "content-type": "application/json", "retry-after": "1", connection: "close" })
    response.end(JSON.stringify({ error: "starting", message: "the server is starting; retry shortly" }))
  }
  server.on("request", starting)
  server.on("newListener", (event) => {
    if (event === "request") server.off("request", starting)
  })
  const close = server.close.bind(server)
  server.close = (callback?: (error?: Error) => void) => {
    close(callback)
    const sweep = setInterval(() => server.closeIdleConnections(), 25)
    const deadline = setTimeout(() => {
      clearInterval(sweep)
      server.closeAllConnections()
    }, graceMs)
    server.once("close", () => {
      clearInterval(sweep)
      clearTimeout(deadline)
    })
    server.closeIdleConnections()
    return server
  }
  return server
}

export const listen = Layer.unwrapEffect(
  Effect.map(AppSettingsConfig, (settings) =>
    NodeHttpServer.layer(closingServer(1000, Math.max(1, Math.round(Duration.toMillis(settings.requestTimeout)))), { port: settings.port, host: settings.host }))
)

/**
 * Every 503 says when to come back: features that set their own `Retry-After` (ingest, SSE)
 * keep it; the others (the console's "database unavailable") get the default.
 */
const retryAfterOn503 = HttpApp.appendPreResponseHandler((_request, response) =>
  Effect.succeed(
    response.status === 503 && response.headers["retry-after"] === undefined
      ? HttpServerResponse.setHeader(response, "retry-after", "5")
      : response
  )
)

/**
 * A process without a role answers 404 on that role's routes. Judged on the route the router
 * will match (case-insensitive, percent-decoded), not the raw path text.
 */
const roleGate = (app: HttpApp.Default) =>
  Effect.gen(function*() {
    const settings = yield* AppSettingsService
    const request = yield* HttpServerRequest.HttpServerRequest
    yield* retryAfterOn503
    const route = matchRoute(request.url)
    const role = roleOf(request.url, route)
    if (role === undefined || settings.roles.has(role)) {
      // An SSE stream is one request lasting minutes; it would only blur the duration histogram.
      return yield* (route?.template === "/v1/telemetry/live" ? app : withRequestMetrics(app, route?.template))
    }
    return HttpServerResponse.unsafeJson(
      { error: "role_disabled", message: `this process does not run the ${role} role (ROLES)` },
      { status: 404 }
    )
  })

/**
 * The process's API (chosen by role at the root: `HttpApiBuilder.api` of its groups) plus
 * `/openapi.json` and interactive docs at `/docs`.
 */
export const HttpAppLive = HttpApiBuilder.serve(roleGate).pipe(
  Layer.provide(DefectsAnsweredLive),
  Layer.provide(HttpApiScalar.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  HttpServer.withLogAddress
)
