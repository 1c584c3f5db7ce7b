/**
 * The last line of the HTTP app: a defect a feature did not turn into a response is logged with
 * its cause and answered 500 with a JSON body; declared failures and interruption pass through.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpClient, HttpClientRequest } from "@effect/platform"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Exit, Layer, Logger, LogLevel, Schema } from "effect"
import { defectsAnswered, DefectsAnsweredLive } from "../../src/http/Defects.js"

const request = HttpServerRequest.fromWeb(new Request("http://localhost/v1/ingest?x=1", { method: "POST" }))

const run = (app: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest>) => {
  const logs: Array<{ message: unknown; level: string; cause: string }> = []
  const capture = Logger.make(({ message, logLevel, cause }) => void logs.push({ message, level: logLevel.label, cause: String(cause) }))
  return defectsAnswered(app as never).pipe(
    Effect.provideService(HttpServerRequest.HttpServerRequest, request),
    Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
    Logger.withMinimumLogLevel(LogLevel.All),
    Effect.exit,
    Effect.map((exit) => ({ exit, logs }))
  )
}

describe("defects on any route", () => {
  it.effect("a defect is answered 500 with a JSON body and logged with its cause", () =>
    Effect.gen(function*() {
      const { exit, logs } = yield* run(Effect.die(new RangeError("Maximum call stack size exceeded")))
      expect(Exit.isSuccess(exit)).toBe(true)
      if (!Exit.isSuccess(exit)) return
      const response = exit.value
      expect(response.status).toBe(500)
      expect(response.headers["content-type"]).toContain("application/json")
      const body = response.body
      expect(body._tag).toBe("Uint8Array")
      if (body._tag !== "Uint8Array") return
      expect(JSON.parse(new TextDecoder().decode(body.body))).toEqual({ _tag: "InternalError", message: "internal error; it has been logged" })
      expect(logs).toHaveLength(1)
      expect(logs[0]!.level).toBe("ERROR")
      expect(String(logs[0]!.message)).toContain("POST /v1/ingest failed")
      expect(logs[0]!.cause).toContain("Maximum call stack size exceeded")
    }))

  it.effect("a declared failure and an interruption are not turned into 500s", () =>
    Effect.gen(function*() {
      const failed = yield* run(Effect.fail("route not found"))
      expect(Exit.isFailure(failed.exit)).toBe(true)
      expect(failed.logs).toEqual([])
      const interrupted = yield* run(Effect.interrupt)
      expect(Exit.isInterrupted(interrupted.exit)).toBe(true)
      expect(interrupted.logs).toEqual([])
    }))

  it.effect("a response is passed through untouched", () =>
    Effect.gen(function*() {
      const { exit } = yield* run(Effect.succeed(HttpServerResponse.empty({ status: 204 })))
      expect(Exit.isSuccess(exit) && exit.value.status).toBe(204)
    }))
})

/** A route that dies, served the way the app is (an API middleware under `HttpApiBuilder.serve`). */
const DyingApi = HttpApi.make("dying").add(
  HttpApiGroup.make("dying").add(HttpApiEndpoint.post("die", "/v1/die").addSuccess(Schema.String))
)
const DyingLive = HttpApiBuilder.serve().pipe(
  Layer.provide(DefectsAnsweredLive),
  Layer.provide(HttpApiBuilder.api(DyingApi).pipe(Layer.provide(
    HttpApiBuilder.group(DyingApi, "dying", (handlers) => handlers.handle("die", () => Effect.die(new RangeError("Maximum call stack size exceeded"))))
  ))),
  Layer.provideMerge(NodeHttpServer.layerTest),
  Layer.provide(Logger.minimumLogLevel(LogLevel.None))
)

describe("defects on a served route", () => {
  it.live("reach the client as 500 with the JSON body (not the platform's empty 500); an unknown route stays 404", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const died = yield* client.execute(HttpClientRequest.post("/v1/die"))
      expect(died.status).toBe(500)
      expect(yield* died.json).toEqual({ _tag: "InternalError", message: "internal error; it has been logged" })
      const missing = yield* client.execute(HttpClientRequest.get("/v1/nowhere"))
      expect(missing.status).toBe(404)
    }).pipe(Effect.scoped, Effect.provide(DyingLive)))
})
