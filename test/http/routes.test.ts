/** Route matching as the router does it (finding 7) and bounded labels (finding 6). */
import { describe, expect, it } from "@effect/vitest"
import { matchRoute, normalizePath, roleOf } from "../../src/http/Routes.js"

describe("routes", () => {
  it("normalizes the way the router does: case, %xx, duplicate and trailing slashes, query", () => {
    expect(normalizePath("/V1/Vendor/Stats?x=1")).toBe("/v1/vendor/stats")
    expect(normalizePath("/v1/%76endor/stats")).toBe("/v1/vendor/stats")
    expect(normalizePath("//v1//vendor/stats/")).toBe("/v1/vendor/stats")
    expect(normalizePath("/v1/%zz")).toBeUndefined()
  })

  it("matches the contract's templates, whatever the spelling", () => {
    for (const url of ["/v1/vendor/stats", "/V1/vendor/stats", "/v1/%76endor/stats", "/v1/vendor/stats/"]) {
      expect(matchRoute(url), url).toEqual({ template: "/v1/vendor/stats", group: "consoleVendor" })
    }
    expect(matchRoute("/v1/vendor/endpoints/ep-1")?.template).toBe("/v1/vendor/endpoints/:id")
    expect(matchRoute("/V1/telemetry/live?topics=ticker")?.template).toBe("/v1/telemetry/live")
    expect(matchRoute("/v1/ingest")?.template).toBe("/v1/ingest")
    expect(matchRoute("/openapi.json")?.template).toBe("/openapi.json")
    expect(matchRoute("/nope/123")).toBeUndefined()
  })

  it("gives the role of the matched route, else of the normalized prefix", () => {
    expect(roleOf("/V1/vendor/stats", matchRoute("/V1/vendor/stats"))).toBe("api")
    expect(roleOf("/v1/%74elemetry/live", matchRoute("/v1/%74elemetry/live"))).toBe("api")
    expect(roleOf("/V1/INGEST", matchRoute("/V1/INGEST"))).toBe("receiver")
    expect(roleOf("/V1/Vendor/unknown", undefined)).toBe("api")
    expect(roleOf("/health", matchRoute("/health"))).toBeUndefined()
  })
})
