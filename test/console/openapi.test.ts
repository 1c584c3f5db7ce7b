/**
 * The OpenAPI document: `GET /openapi.json` as served, and the whole contract
 * (`OpenApi.fromApi(Api)`), checked with ajv against a minimal OpenAPI 3.1 structure, every
 * `$ref` resolved, every operation answering something, and every console operation
 * declaring the bearer scheme, its 401/403 and its 400.
 */
import { OpenApi } from "@effect/platform"
import { describe, expect, it, layer } from "@effect/vitest"
import { Ajv2020 } from "ajv/dist/2020.js"
import { Effect } from "effect"
import * as fs from "node:fs"
import { Api, API_VERSION } from "../../src/http/Api.js"
import { ConsoleTestLayer, send } from "./support.js"

const parameter = {
  type: "object",
  required: ["name", "in", "schema"],
  properties: {
    name: { type: "string", minLength: 1 },
    in: { enum: ["query", "path", "header", "cookie"] },
    required: { type: "boolean" },
    schema: { type: "object" }
  }
}

const operation = {
  type: "object",
  required: ["responses"],
  properties: {
    operationId: { type: "string" },
    parameters: { type: "array", items: parameter },
    requestBody: { type: "object", required: ["content"] },
    responses: {
      type: "object",
      minProperties: 1,
      propertyNames: { pattern: "^([1-5][0-9]{2}|default)$" },
      additionalProperties: { type: "object", required: ["description"] }
    },
    security: { type: "array", items: { type: "object" } }
  }
}

/** Enough of OpenAPI 3.1 to catch a malformed document (not the full meta-schema). */
const openApi31 = {
  type: "object",
  required: ["openapi", "info", "paths"],
  properties: {
    openapi: { type: "string", pattern: "^3\\.1\\.\\d+$" },
    info: { type: "object", required: ["title", "version"] },
    paths: {
      type: "object",
      propertyNames: { pattern: "^/" },
      additionalProperties: {
        type: "object",
        propertyNames: { enum: ["get", "put", "post", "delete", "options", "head", "patch", "trace", "parameters", "summary", "description"] },
        properties: Object.fromEntries(["get", "put", "post", "delete", "patch"].map((m) => [m, operation]))
      }
    },
    components: {
      type: "object",
      properties: {
        schemas: { type: "object", additionalProperties: { type: ["object", "boolean"] } },
        securitySchemes: {
          type: "object",
          additionalProperties: { type: "object", required: ["type"] }
        }
      }
    }
  }
}

type Doc = Record<string, unknown>
type Operation = {
  readonly parameters: ReadonlyArray<{ readonly name: string; readonly in: string }>
  readonly responses: Record<string, unknown>
  readonly security?: ReadonlyArray<Record<string, unknown>>
}

const resolvePointer = (doc: Doc, ref: string): unknown =>
  ref.slice(2).split("/").reduce<unknown>(
    (node, key) => (typeof node === "object" && node !== null ? (node as Doc)[key.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined),
    doc
  )

const refsOf = (node: unknown, out: Array<string> = []): Array<string> => {
  if (Array.isArray(node)) node.forEach((n) => refsOf(n, out))
  else if (typeof node === "object" && node !== null) {
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string") out.push(value)
      else refsOf(value, out)
    }
  }
  return out
}

const check = (doc: Doc) => {
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  const valid = ajv.validate(openApi31, doc)
  expect(ajv.errors ?? [], "OpenAPI structure").toEqual([])
  expect(valid).toBe(true)
  for (const ref of refsOf(doc)) expect(resolvePointer(doc, ref), ref).toBeDefined()
  const paths = doc["paths"] as Record<string, Record<string, Operation>>
  const schemes = ((doc["components"] as Doc)["securitySchemes"] ?? {}) as Record<string, { type: string; scheme?: string }>
  let consoleOperations = 0
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      const where = `${method.toUpperCase()} ${path}`
      for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
        expect(op.parameters.some((p) => p.in === "path" && p.name === name), `${where}: path parameter ${name}`).toBe(true)
      }
      for (const requirement of op.security ?? []) {
        for (const scheme of Object.keys(requirement)) expect(schemes[scheme], `${where}: scheme ${scheme}`).toBeDefined()
      }
      if (/^\/v1\/(vendor|agent|admin)\//.test(path)) {
        consoleOperations++
        expect(op.security, where).toEqual([{ bearer: [] }])
        for (const status of ["401", "403", "400", "503"]) expect(Object.keys(op.responses), where).toContain(status)
      }
    }
  }
  expect(schemes["bearer"]).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" })
  return consoleOperations
}

describe("the whole contract", () => {
  it("is a valid OpenAPI 3.1 document with every console operation secured", () => {
    const doc: Doc = JSON.parse(JSON.stringify(OpenApi.fromApi(Api)))
    expect(check(doc)).toBe(15)
    expect(Object.keys((doc["paths"] as Doc)["/v1/vendor/rejections"] as Doc)).toEqual(["get"])
    const paths = doc["paths"] as Record<string, Record<string, Operation>>
    const payments = paths["/v1/vendor/payments"]?.["get"]
    expect(payments?.parameters.map((p) => p.name)).toEqual([
      "from", "to", "gateway_id", "agent_id", "asset", "network", "min_amount", "max_amount", "limit", "cursor"
    ])
  })

  it("every operation declares its 500 (InternalError); ingest describes its 408; the console's body endpoints declare their 413", () => {
    const doc: Doc = JSON.parse(JSON.stringify(OpenApi.fromApi(Api)))
    const paths = doc["paths"] as Record<string, Record<string, { responses: Record<string, { description?: string }> }>>
    let operations = 0
    for (const [path, methods] of Object.entries(paths)) {
      for (const [method, op] of Object.entries(methods)) {
        operations += 1
        expect(Object.keys(op.responses), `${method} ${path}`).toContain("500")
      }
    }
    expect(operations).toBeGreaterThan(15)
    expect(JSON.stringify(paths["/v1/ingest"]?.["post"]?.responses["500"])).toContain("InternalError")
    // 408 is described, not declared: a second empty error schema turned every unknown route's 404 into 408.
    expect(JSON.stringify(paths["/v1/ingest"]?.["post"])).toContain("answered 408")
    expect(Object.keys(paths["/v1/vendor/endpoints"]?.["post"]?.responses ?? {})).toContain("413")
    expect(Object.keys(paths["/v1/vendor/endpoints/{id}"]?.["patch"]?.responses ?? {})).toContain("413")
    expect(Object.keys(paths["/v1/vendor/endpoints"]?.["get"]?.responses ?? {})).not.toContain("413")
  })

  it("states the package's version (and the default APP_VERSION)", () => {
    const doc = OpenApi.fromApi(Api)
    const pkg = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
    expect(doc.info.version).toBe(pkg.version)
    expect(API_VERSION).toBe(pkg.version)
  })
})

layer(ConsoleTestLayer, { excludeTestServices: true })("GET /openapi.json", (it) => {
  it.effect("serves a valid document", () =>
    Effect.gen(function*() {
      const response = yield* send("GET", "/openapi.json")
      expect(response.status).toBe(200)
      expect(check(response.body as Doc)).toBe(15)
    }))
})
