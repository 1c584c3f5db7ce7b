/** CRUD of a vendor's priced routes: validation (400), tenancy (404) and uniqueness (409). */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { ConsoleTestLayer, insertVendor, send, token } from "./support.js"

const vendorA = token({ role: "vendor", vendorId: "ea" })
const vendorB = token({ role: "vendor", vendorId: "eb" })

interface EndpointBody {
  readonly id: string
  readonly method: string
  readonly path: string
  readonly price: string
  readonly asset: string
  readonly description: string | null
  readonly active: boolean
  readonly gateway_id: string | null
  readonly created_at: string
  readonly updated_at: string
}

const issuesOf = (body: unknown) =>
  (body as { readonly issues: ReadonlyArray<{ readonly path: ReadonlyArray<string | number> }> }).issues.map((i) => i.path.join("."))

layer(ConsoleTestLayer, { excludeTestServices: true })("vendor endpoints CRUD", (it) => {
  it.effect("fixtures", () =>
    Effect.gen(function*() {
      yield* insertVendor("ea", ["ea-g1"])
      yield* insertVendor("eb", ["eb-g1"])
    }))

  it.effect("create, read, list, update, delete", () =>
    Effect.gen(function*() {
      const created = yield* send("POST", "/v1/vendor/endpoints", {
        bearer: vendorA,
        body: { method: "GET", path: "/v1/weather/{city}", price: "0.010000", asset: "USDC", description: "Weather", gateway_id: "ea-g1" }
      })
      expect(created.status).toBe(201)
      const endpoint = created.body as EndpointBody
      expect(endpoint).toMatchObject({
        method: "GET", path: "/v1/weather/{city}", price: "0.01", asset: "USDC", description: "Weather", active: true, gateway_id: "ea-g1"
      })
      expect(endpoint.id).toMatch(/^[1-9][0-9]*$/)
      expect(endpoint.created_at).toMatch(/Z$/)

      const read = yield* send("GET", `/v1/vendor/endpoints/${endpoint.id}`, { bearer: vendorA })
      expect(read.body).toEqual(endpoint)

      const updated = yield* send("PATCH", `/v1/vendor/endpoints/${endpoint.id}`, {
        bearer: vendorA,
        body: { price: "0.02", active: false, description: null }
      })
      expect(updated.status).toBe(200)
      expect(updated.body).toMatchObject({ price: "0.02", active: false, description: null, path: "/v1/weather/{city}" })

      yield* send("POST", "/v1/vendor/endpoints", { bearer: vendorA, body: { method: "POST", path: "/v1/b", price: "1", asset: "USDC" } })
      const list = yield* send("GET", "/v1/vendor/endpoints?limit=1", { bearer: vendorA })
      const page = list.body as { readonly items: ReadonlyArray<EndpointBody>; readonly next_cursor: string | null }
      expect(page.items.map((e) => e.id)).toEqual([endpoint.id])
      const next = yield* send("GET", `/v1/vendor/endpoints?limit=1&cursor=${page.next_cursor}`, { bearer: vendorA })
      expect((next.body as { readonly items: ReadonlyArray<EndpointBody> }).items.map((e) => e.path)).toEqual(["/v1/b"])
      const inactive = yield* send("GET", "/v1/vendor/endpoints?active=false", { bearer: vendorA })
      expect((inactive.body as { readonly items: ReadonlyArray<EndpointBody> }).items.map((e) => e.id)).toEqual([endpoint.id])
      const theirs = yield* send("GET", "/v1/vendor/endpoints", { bearer: vendorB })
      expect(theirs.body).toEqual({ items: [], next_cursor: null })

      const deleted = yield* send("DELETE", `/v1/vendor/endpoints/${endpoint.id}`, { bearer: vendorA })
      expect(deleted.status).toBe(204)
      const gone = yield* send("GET", `/v1/vendor/endpoints/${endpoint.id}`, { bearer: vendorA })
      expect(gone.status).toBe(404)
      const again = yield* send("DELETE", `/v1/vendor/endpoints/${endpoint.id}`, { bearer: vendorA })
      expect(again.status).toBe(404)
    }))

  it.effect("400 names the invalid field", () =>
    Effect.gen(function*() {
      const valid = { method: "GET", path: "/x", price: "1", asset: "USDC" }
      const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
        [{ ...valid, method: "FETCH" }, "method"],
        [{ ...valid, path: "no-slash" }, "path"],
        [{ ...valid, price: "-1" }, "price"],
        [{ ...valid, price: 1 }, "price"],
        [{ ...valid, price: "1.1234567890123456789" }, "price"],
        [{ ...valid, asset: "US DC" }, "asset"],
        [{ ...valid, description: "x".repeat(1001) }, "description"],
        [{ ...valid, active: "yes" }, "active"],
        [{ ...valid, gateway_id: "bad id" }, "gateway_id"],
        [{ method: "GET", path: "/x", asset: "USDC" }, "price"]
      ]
      for (const [body, field] of cases) {
        const response = yield* send("POST", "/v1/vendor/endpoints", { bearer: vendorA, body })
        expect(response.status, JSON.stringify(body)).toBe(400)
        expect(issuesOf(response.body), JSON.stringify(body)).toContain(field)
      }
      const empty = yield* send("PATCH", "/v1/vendor/endpoints/1", { bearer: vendorA, body: {} })
      expect(empty.status).toBe(400)
      expect(issuesOf(empty.body)).toEqual(["body"])
      const badId = yield* send("GET", "/v1/vendor/endpoints/abc", { bearer: vendorA })
      expect(badId.status).toBe(400)
      expect(issuesOf(badId.body)).toContain("id")
    }))

  it.effect("404 for another vendor's endpoint or gateway, 409 for a duplicate method + path", () =>
    Effect.gen(function*() {
      const created = yield* send("POST", "/v1/vendor/endpoints", {
        bearer: vendorA, body: { method: "GET", path: "/dup", price: "1", asset: "USDC" }
      })
      const id = (created.body as EndpointBody).id
      for (const [method, body] of [["GET", undefined], ["PATCH", { price: "2" }], ["DELETE", undefined]] as const) {
        const response = yield* send(method, `/v1/vendor/endpoints/${id}`, { bearer: vendorB, body })
        expect(response.status, method).toBe(404)
        expect(response.body).toEqual({ _tag: "NotFound", message: `endpoint ${id} not found` })
      }
      const foreignGateway = yield* send("POST", "/v1/vendor/endpoints", {
        bearer: vendorA, body: { method: "GET", path: "/g", price: "1", asset: "USDC", gateway_id: "eb-g1" }
      })
      expect(foreignGateway.status).toBe(404)
      const duplicate = yield* send("POST", "/v1/vendor/endpoints", {
        bearer: vendorA, body: { method: "GET", path: "/dup", price: "3", asset: "USDC" }
      })
      expect(duplicate.status).toBe(409)
      expect(duplicate.body).toMatchObject({ _tag: "Conflict" })
      // Vendor B may price the same route.
      const same = yield* send("POST", "/v1/vendor/endpoints", {
        bearer: vendorB, body: { method: "GET", path: "/dup", price: "3", asset: "USDC" }
      })
      expect(same.status).toBe(201)
      const other = yield* send("POST", "/v1/vendor/endpoints", {
        bearer: vendorA, body: { method: "GET", path: "/other", price: "1", asset: "USDC" }
      })
      const clash = yield* send("PATCH", `/v1/vendor/endpoints/${(other.body as EndpointBody).id}`, {
        bearer: vendorA, body: { path: "/dup" }
      })
      expect(clash.status).toBe(409)
    }))
})
