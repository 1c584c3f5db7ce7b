/**
 * CORS for a console served from another origin. Nothing by default: without
 * `CONSOLE_ALLOWED_ORIGINS` no CORS header is ever sent, so browsers keep the same-origin rule.
 *
 * With a list (comma-separated exact origins, e.g. `https://console.machpay.example`), a
 * request whose `Origin` is listed gets `Access-Control-Allow-Origin: <that origin>` and
 * `Access-Control-Allow-Credentials: true` (the console sends its token or cookie); any other
 * origin gets no CORS header at all. Preflights (`OPTIONS` + `Access-Control-Request-Method`)
 * are answered 204 here. `*` is refused: a wildcard cannot carry credentials.
 *
 * The headers are added by a pre-response handler, so they are on every answer — errors the
 * API encodes after this middleware (400/401/403/503) included: a browser hides the body of a
 * cross-origin response without them.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Config, ConfigError, Effect, Either, Layer } from "effect"

const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?$/

export const AllowedOriginsConfig: Config.Config<ReadonlyArray<string>> = Config.string("CONSOLE_ALLOWED_ORIGINS").pipe(
  Config.withDefault(""),
  Config.mapOrFail((text) => {
    const origins = text.split(",").map((o) => o.trim()).filter((o) => o.length > 0)
    const bad = origins.find((o) => !ORIGIN.test(o))
    return bad === undefined
      ? Either.right(origins)
      : Either.left(ConfigError.InvalidData(
        ["CONSOLE_ALLOWED_ORIGINS"],
        `${JSON.stringify(bad)} is not an origin such as https://console.example.com (scheme://host[:port], no path, no *)`
      ))
  })
)

const ALLOWED_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"
const ALLOWED_HEADERS = "authorization, content-type, last-event-id, prefer"
/** Headers a cross-origin script may read (paging and retry hints). */
const EXPOSED_HEADERS = "retry-after, www-authenticate"

export const corsMiddleware = (origins: ReadonlyArray<string>) => {
  const allowed = new Set(origins)
  const headersFor = (origin: string) => ({
    "access-control-allow-origin": origin,
    "access-control-allow-credentials": "true",
    "access-control-expose-headers": EXPOSED_HEADERS,
    vary: "Origin"
  })
  return (app: HttpApp.Default): HttpApp.Default =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const origin = request.headers["origin"]
      if (origin === undefined) return app
      const listed = allowed.has(origin)
      if (request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined) {
        return Effect.succeed(HttpServerResponse.empty({
          status: 204,
          headers: listed
            ? {
              ...headersFor(origin),
              "access-control-allow-methods": ALLOWED_METHODS,
              "access-control-allow-headers": ALLOWED_HEADERS,
              "access-control-max-age": "600"
            }
            : { vary: "Origin" }
        }))
      }
      if (!listed) return app
      return Effect.zipRight(
        HttpApp.appendPreResponseHandler((_, response) => Effect.succeed(HttpServerResponse.setHeaders(response, headersFor(origin)))),
        app
      )
    })
}

/** The middleware when `CONSOLE_ALLOWED_ORIGINS` lists origins; nothing otherwise. */
export const ConsoleCorsLive = Layer.unwrapEffect(
  Effect.map(AllowedOriginsConfig, (origins) =>
    origins.length === 0 ? Layer.empty : HttpApiBuilder.middleware(corsMiddleware(origins)))
)
