/**
 * CORS: nothing by default; with `CONSOLE_ALLOWED_ORIGINS`, listed origins get their origin
 * and credentials back (errors included) and preflights are answered; others get nothing.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Layer } from "effect"
import { AllowedOriginsConfig } from "../../src/console/Cors.js"
import { makeTestDatabase } from "../support/database.js"
import { ConsoleTestLayer, consoleServerOn, send, token } from "./support.js"

const CONSOLE = "https://console.example.com"
const vendor = token({ role: "vendor", vendorId: "cv" })

const corsHeaders = (headers: Record<string, string>) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => name.startsWith("access-control-")))

const WithOrigins = consoleServerOn(makeTestDatabase()).pipe(
  Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([
    ["CONSOLE_ALLOWED_ORIGINS", `${CONSOLE}, http://localhost:5173`]
  ]))))
)

describe("CORS", () => {
  it.effect("CONSOLE_ALLOWED_ORIGINS takes exact origins only: no wildcard, no path", () =>
    Effect.gen(function*() {
      const read = (value: string) =>
        Effect.either(Effect.withConfigProvider(AllowedOriginsConfig, ConfigProvider.fromMap(new Map([["CONSOLE_ALLOWED_ORIGINS", value]]))))
      expect(yield* read("https://a.example, http://localhost:5173")).toEqual(Either.right(["https://a.example", "http://localhost:5173"]))
      for (const bad of ["*", "https://a.example/console", "a.example"]) expect(Either.isLeft(yield* read(bad)), bad).toBe(true)
    }))

  layer(ConsoleTestLayer, { excludeTestServices: true })("without CONSOLE_ALLOWED_ORIGINS", (it) => {
    it.effect("sends no CORS header to anyone", () =>
      Effect.gen(function*() {
        const get = yield* send("GET", "/v1/vendor/endpoints", { bearer: vendor, headers: { origin: CONSOLE } })
        expect(corsHeaders(get.headers)).toEqual({})
        const preflight = yield* send("OPTIONS", "/v1/vendor/endpoints", {
          headers: { origin: CONSOLE, "access-control-request-method": "GET" }
        })
        expect(corsHeaders(preflight.headers)).toEqual({})
      }))
  })

  layer(WithOrigins, { excludeTestServices: true })("with CONSOLE_ALLOWED_ORIGINS", (it) => {
    it.effect("a listed origin gets its origin and credentials, on successes and errors", () =>
      Effect.gen(function*() {
        for (const [bearer, status] of [[vendor, 200], [undefined, 401]] as const) {
          const response = yield* send("GET", "/v1/vendor/endpoints", { bearer, headers: { origin: CONSOLE } })
          expect(response.status).toBe(status)
          expect(response.headers["access-control-allow-origin"]).toBe(CONSOLE)
          expect(response.headers["access-control-allow-credentials"]).toBe("true")
          expect(response.headers["vary"]).toContain("Origin")
        }
      }))

    it.effect("preflight is answered for listed origins only", () =>
      Effect.gen(function*() {
        const ok = yield* send("OPTIONS", "/v1/vendor/stats", {
          headers: { origin: "http://localhost:5173", "access-control-request-method": "GET", "access-control-request-headers": "authorization" }
        })
        expect(ok.status).toBe(204)
        expect(ok.headers["access-control-allow-origin"]).toBe("http://localhost:5173")
        expect(ok.headers["access-control-allow-credentials"]).toBe("true")
        expect(ok.headers["access-control-allow-methods"]).toContain("GET")
        expect(ok.headers["access-control-allow-headers"]).toContain("authorization")
        const other = yield* send("OPTIONS", "/v1/vendor/stats", {
          headers: { origin: "https://evil.example.com", "access-control-request-method": "GET" }
        })
        expect(corsHeaders(other.headers)).toEqual({})
      }))

    it.effect("any other origin gets no CORS header, and no credentials", () =>
      Effect.gen(function*() {
        const response = yield* send("GET", "/v1/vendor/endpoints", { bearer: vendor, headers: { origin: "https://evil.example.com" } })
        expect(response.status).toBe(200)
        expect(corsHeaders(response.headers)).toEqual({})
      }))
  })
})
