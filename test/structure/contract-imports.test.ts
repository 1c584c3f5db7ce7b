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
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import * as path from "node:path"
import ts from "typescript"

const root = path.resolve(import.meta.dirname, "..", "..")

const AUTH_CONTRACT = new Set(["src/auth/Authentication.ts", "src/auth/Errors.ts", "src/auth/Principal.ts"])
const CONTRACT_PACKAGES = [/^effect(\/.*)?$/, /^@effect\/platform(\/.*)?$/]

const isContractModule = (file: string): boolean =>
  file.startsWith("schema/") || /(^|\/)(Api|Errors)\.ts$/.test(file) || AUTH_CONTRACT.has(file)

const walk = (dir: string): Array<string> =>
  readdirSync(path.join(root, dir)).flatMap((name) => {
    const rel = `${dir}/${name}`
    return statSync(path.join(root, rel)).isDirectory() ? walk(rel) : [rel]
  })

const entryPoints = (): Array<string> => [
  ...walk("schema").filter((f) => f.endsWith(".ts")),
  ...walk("src").filter((f) => f.endsWith("/Api.ts"))
]

/** The module specifiers a file imports at run time. */
const runtimeImports = (file: string): Array<string> => {
  const source = ts.createSourceFile(file, readFileSync(path.join(root, file), "utf8"), ts.ScriptTarget.ES2022, true)
  const out: Array<string> = []
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause
      const typeOnly = clause !== undefined && (clause.isTypeOnly || (
        clause.name === undefined && clause.namedBindings !== undefined && ts.isNamedImports(clause.namedBindings) &&
        clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly)
      ))
      if (!typeOnly) out.push(node.moduleSpecifier.text)
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly = node.isTypeOnly || (
        node.exportClause !== undefined && ts.isNamedExports(node.exportClause) &&
        node.exportClause.elements.every((e) => e.isTypeOnly)
      )
      if (!typeOnly) out.push(node.moduleSpecifier.text)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments
      if (arg !== undefined && ts.isStringLiteral(arg)) out.push(arg.text)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return out
}

/** `./x.js` → `dir/x.ts` (how tsx and vitest resolve our relative imports). */
const resolveRelative = (from: string, specifier: string): string => {
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier))
  const candidates = [target.replace(/\.js$/, ".ts"), target, `${target}.ts`, `${target}/index.ts`]
  const found = candidates.find((c) => existsSync(path.join(root, c)) && statSync(path.join(root, c)).isFile())
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
    for (const specifier of runtimeImports(file)) {
      if (specifier.startsWith(".")) {
        const target = resolveRelative(file, specifier)
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
