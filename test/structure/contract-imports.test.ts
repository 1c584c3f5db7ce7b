/**
 * The contract imports no implementation: walking the runtime imports from every file under
 * `schema/` and every `Api.ts` must reach only contract modules and contract packages, so a
 * client (the load generator, a typed `HttpApiClient`) can import the contract without
 * pulling in the server.
 *
 * A contract module is a file under `schema/`, an `Api.ts`, an `Errors.ts` (tagged errors
 * that cross HTTP), or one of the auth contract files below (middleware tags, the principal
 * type). A contract package is `effect` or `@effect/platform` (not `@effect/platform-node`).
 * Anything else — `node:*` (file system, sockets …), `pg`, `@effect/sql*`, `@effect/platform-node`,
 * repositories, layers, servers, the database — is a server module and fails the test.
 * Type-only imports (`import type`, `export type`, all-`type` specifiers) are erased at run
 * time and are not followed.
 */
import { describe, expect, it } from "@effect/vitest"
import { importsOf, resolveRelative, walk } from "./imports.js"

const AUTH_CONTRACT = new Set(["src/auth/Authentication.ts", "src/auth/Errors.ts", "src/auth/Principal.ts"])
const CONTRACT_PACKAGES = [/^effect(\/.*)?$/, /^@effect\/platform(\/.*)?$/]

const isContractModule = (file: string): boolean =>
  file.startsWith("schema/") || /(^|\/)(Api|Errors)\.ts$/.test(file) || AUTH_CONTRACT.has(file)

const entryPoints = (): Array<string> => [
  ...walk("schema").filter((f) => f.endsWith(".ts")),
  ...walk("src").filter((f) => f.endsWith("/Api.ts"))
]

/** `resolveRelative`, failing on a specifier that names no file (the contract must resolve). */
const resolveOrFail = (from: string, specifier: string): string => {
  const found = resolveRelative(from, specifier)
  if (found === undefined) throw new Error(`${from}: cannot resolve ${specifier}`)
  return found
}

/** Every server module reachable from `entry`, each with the import chain that reaches it. */
const serverModulesReachedFrom = (entry: string): Array<string> => {
  const violations: Array<string> = []
  const seen = new Set<string>([entry])
  const queue: Array<ReadonlyArray<string>> = [[entry]]
  while (queue.length > 0) {
    const chain = queue.shift()!
    const file = chain[chain.length - 1]!
    for (const specifier of importsOf(file, { runtime: true })) {
      if (specifier.startsWith(".")) {
        const target = resolveOrFail(file, specifier)
        if (!isContractModule(target)) {
          violations.push([...chain, target].join(" → "))
        } else if (!seen.has(target)) {
          seen.add(target)
          queue.push([...chain, target])
        }
      } else if (!CONTRACT_PACKAGES.some((p) => p.test(specifier))) {
        violations.push([...chain, specifier].join(" → "))
      }
    }
  }
  return violations
}

describe("the contract", () => {
  const entries = entryPoints()

  it("has entry points (schema/ and every Api.ts)", () => {
    expect(entries).toContain("schema/index.ts")
    expect(entries).toContain("src/http/Api.ts")
    expect(entries).toContain("src/realtime/Api.ts")
    expect(entries).toContain("src/console/Api.ts")
  })

  it.each(entries)("%s imports no server module", (entry) => {
    expect(serverModulesReachedFrom(entry)).toEqual([])
  })

  it("the checker does catch a server import", () => {
    // A module known to reach the file system, as a self-test of the walker.
    const violations = serverModulesReachedFrom("src/auth/JwtSecret.ts")
    expect(violations.length).toBeGreaterThan(0)
  })
})
