/**
 * What a console call does with a body it cannot use: not JSON → 400 with a JSON body (the
 * framework's own answer was a 500 and an ERROR log line per request); over
 * CONSOLE_MAX_BODY_BYTES → 413 when declared; a chunked body is cut off at the limit.
 * Nothing is stored either way.
 */
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { ConsoleTestLayer, insertVendor, send, token } from "./support.js"

const vendor = token({ role: "vendor", vendorId: "vendor-body" })
const endpoint = { method: "GET", path: "/bodies", price: "0.5", asset: "USDC", gateway_id: "gw-body" }
const stored = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ n: number }>`SELECT count(*)::int AS n FROM endpoints WHERE vendor_id = 'vendor-body'`.pipe(Effect.map((rows) => rows[0]?.n)))

layer(ConsoleTestLayer, { excludeTestServices: true })("console request bodies", (it) => {
  it.effect("not JSON: 400 naming the problem", () =>
    Effect.gen(function*() {
      yield* insertVendor("vendor-body", ["gw-body"])
      for (const rawBody of ["xx", "{\"method\":\"GET\",", "method=GET&path=/x"]) {
        const response = yield* send("POST", "/v1/vendor/endpoints", { bearer: vendor, rawBody })
        expect(response.status, rawBody).toBe(400)
        expect(response.body).toMatchObject({ _tag: "HttpApiDecodeError", message: "the request body is not valid JSON" })
      }
      expect(yield* stored).toBe(0)
      // A good body still works.
      expect((yield* send("POST", "/v1/vendor/endpoints", { bearer: vendor, body: endpoint })).status).toBe(201)
    }))

  it.effect("nested deeper than 32 levels: 400 naming the limit, not a 500 (formatting the decode error overflowed the stack)", () =>
    Effect.gen(function*() {
      const before = yield* stored
      for (const [method, url] of [["POST", "/v1/vendor/endpoints"], ["PATCH", "/v1/vendor/endpoints/1"]] as const) {
        for (const rawBody of ["[".repeat(3000) + "]".repeat(3000), JSON.stringify({ ...endpoint, description: "@@" }).replace('"@@"', `${"[".repeat(40)}${"]".repeat(40)}`)]) {
          const response = yield* send(method, url, { bearer: vendor, rawBody })
          expect(response.status, `${method} ${rawBody.slice(0, 60)}`).toBe(400)
          expect(response.body).toMatchObject({ _tag: "HttpApiDecodeError", message: "the request body nests deeper than 32 levels" })
        }
      }
      expect(yield* stored).toBe(before)
      // Nesting within the limit is decoded as before (here: refused by the schema, with a 400).
      const shallow = yield* send("POST", "/v1/vendor/endpoints", { bearer: vendor, rawBody: "[".repeat(30) + "]".repeat(30) })
      expect(shallow.status).toBe(400)
      expect(shallow.body).toMatchObject({ _tag: "HttpApiDecodeError" })
    }))

  it.effect("text PostgreSQL cannot store (NUL, an unpaired surrogate): 400 naming the field, not silently U+FFFD", () =>
    Effect.gen(function*() {
      const before = yield* stored
      const cases: ReadonlyArray<readonly [string, string]> = [
        [`{"method":"GET","path":"/n5\\ud800","price":"1","asset":"USDC","gateway_id":"gw-body"}`, "path"],
        [`{"method":"GET","path":"/n6","price":"1","asset":"USDC","gateway_id":"gw-body","description":"a\\u0000b"}`, "description"],
        [`{"method":"GET","path":"/n7\\udc00x","price":"1","asset":"USDC","gateway_id":"gw-body"}`, "path"]
      ]
      for (const [rawBody, field] of cases) {
        const response = yield* send("POST", "/v1/vendor/endpoints", { bearer: vendor, rawBody })
        expect(response.status, rawBody).toBe(400)
        expect(response.body).toMatchObject({ _tag: "HttpApiDecodeError", issues: [{ path: [field] }] })
        expect(String((response.body as { message: string }).message)).toContain(`${field}: contains a NUL character or an unpaired UTF-16 surrogate`)
      }
      expect(yield* stored).toBe(before)
      // A surrogate pair (an emoji) is text like any other.
      const emoji = yield* send("POST", "/v1/vendor/endpoints", {
        bearer: vendor,
        rawBody: `{"method":"GET","path":"/emoji","price":"1","asset":"USDC","gateway_id":"gw-body","description":"ok \\ud83d\\ude00"}`
      })
      expect(emoji.status, JSON.stringify(emoji.body)).toBe(201)
    }))

  it.effect("a body of another type than JSON is answered at once (read by the framework, not held)", () =>
    Effect.gen(function*() {
      for (const contentType of ["application/octet-stream", "text/plain"]) {
        const response = yield* send("POST", "/v1/vendor/endpoints", { bearer: vendor, rawBody: JSON.stringify(endpoint), contentType }).pipe(
          Effect.timeout("10 seconds")
        )
        expect(response.status, contentType).toBeGreaterThanOrEqual(400)
        expect(response.status, contentType).toBeLessThan(500)
      }
    }))

  it.effect("over CONSOLE_MAX_BODY_BYTES (64 KiB): 413 when declared, cut off at the limit when chunked", () =>
    Effect.gen(function*() {
      const before = yield* stored
      const big = JSON.stringify({ ...endpoint, path: "/big", description: "d".repeat(70_000) })
      const declared = yield* send("POST", "/v1/vendor/endpoints", { bearer: vendor, rawBody: big })
      expect(declared.status).toBe(413)
      expect(declared.body).toMatchObject({ _tag: "PayloadTooLarge" })
      expect(String((declared.body as { message: string }).message)).toContain("CONSOLE_MAX_BODY_BYTES")
      // Chunked, no Content-Length: reading stops at the limit. The server answers 413 and closes
      // the connection at once, so a client still sending may see the reset instead of the answer.
      const streamed = yield* send("PATCH", "/v1/vendor/endpoints/1", { bearer: vendor, rawBody: big, chunked: true }).pipe(Effect.either)
      if (streamed._tag === "Right") expect(streamed.right.status).toBe(413)
      else expect(String(streamed.left)).toMatch(/Transport error/)
      // The server goes on.
      expect((yield* send("GET", "/v1/vendor/endpoints", { bearer: vendor })).status).toBe(200)
      expect(yield* stored).toBe(before)
    }))
})
