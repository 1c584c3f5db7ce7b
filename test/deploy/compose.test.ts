/**
 * `docker compose config` without Docker (no compose plugin here): docker-compose.yml parsed
 * with YAML merge keys, validated against the Compose Specification's JSON Schema
 * (test/deploy/compose-spec.json, from compose-spec/compose-spec `schema/compose-spec.json`
 * at 170098ba), and checked for the wiring the docs promise.
 */
import { describe, expect, it } from "@effect/vitest"
import AjvModule from "ajv"
import * as fs from "node:fs"
import * as path from "node:path"
import { parse } from "yaml"
import { ROOT } from "../../scripts/build.js"

const Ajv = AjvModule.default

interface Service {
  readonly environment?: Record<string, string>
  readonly depends_on?: Record<string, unknown>
  readonly volumes?: ReadonlyArray<string>
}

const compose = parse(fs.readFileSync(path.join(ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
  readonly services: Record<string, Service>
}

describe("docker-compose.yml", () => {
  it("is valid against the Compose Specification", () => {
    const schema = JSON.parse(fs.readFileSync(path.join(ROOT, "test/deploy/compose-spec.json"), "utf8"))
    delete schema.$schema
    const validate = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(schema)
    expect(validate(compose), JSON.stringify(validate.errors, null, 2)).toBe(true)
  })

  it("every role exports its traces to the trace backend, under its own service name", () => {
    expect(compose.services["jaeger"]?.environment?.["COLLECTOR_OTLP_ENABLED"]).toBe("true")
    for (const role of ["receiver", "api", "worker"]) {
      const service = compose.services[role]
      expect(service?.environment?.["ROLES"]).toBe(role)
      expect(service?.environment?.["OTEL_EXPORTER_OTLP_ENDPOINT"]).toBe("http://jaeger:4318")
      expect(service?.environment?.["OTEL_SERVICE_NAME"]).toBe(`machpay-${role}`)
      expect(Object.keys(service?.depends_on ?? {})).toContain("jaeger")
    }
  })

  it("the receiver's journal volume is mounted where the image keeps the journal", () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8")
    const journalDir = /JOURNAL_DIR=(\S+)/.exec(dockerfile)?.[1]
    expect(compose.services["receiver"]?.volumes).toContain(`journal:${journalDir}`)
  })
})

const composeE2e = parse(fs.readFileSync(path.join(ROOT, "docker-compose.e2e.yml"), "utf8"), { merge: true }) as {
  readonly services: Record<string, Service & { readonly command?: ReadonlyArray<string>; readonly build?: { readonly dockerfile?: string } }>
}

describe("docker-compose.e2e.yml", () => {
  it("is valid against the Compose Specification", () => {
    const schema = JSON.parse(fs.readFileSync(path.join(ROOT, "test/deploy/compose-spec.json"), "utf8"))
    delete schema.$schema
    const validate = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(schema)
    expect(validate(composeE2e), JSON.stringify(validate.errors, null, 2)).toBe(true)
  })

  it("runs two receivers, an api process and a worker, with the simulator against both receivers", () => {
    const roles = Object.values(composeE2e.services).map((s) => s.environment?.["ROLES"]).filter((r) => r !== undefined).sort()
    expect(roles).toEqual(["api", "receiver", "receiver", "worker"])
    const simulator = composeE2e.services["simulator"]
    expect(simulator?.build?.dockerfile).toBe("deploy/simulator.Dockerfile")
    expect(fs.existsSync(path.join(ROOT, "deploy/simulator.Dockerfile"))).toBe(true)
    const receivers = (simulator?.command ?? []).filter((_, i, all) => all[i - 1] === "--receiver")
    expect(receivers).toEqual(["http://receiver-1:8080", "http://receiver-2:8080"])
    expect(composeE2e.services["sim-init"]?.command?.[0]).toBe("init")
    expect(Object.keys(simulator?.depends_on ?? {})).toContain("sim-init")
  })
})
