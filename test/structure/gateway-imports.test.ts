/**
 * The gateway library (`gateway/`) is what a gateway embeds: it may import the contract
 * (`schema/`), `effect` and Node built-ins — never the server (`src/`) or other packages. Every
 * import counts here, type-only ones included, so the folder can be lifted out with `schema/`.
 */
import { describe, expect, it } from "@effect/vitest"
import { readdirSync } from "node:fs"
import * as path from "node:path"
import { importsOf, root } from "./imports.js"

/** Why `specifier` imported from `file` is not allowed, or undefined when it is. */
export const violation = (file: string, specifier: string): string | undefined => {
  if (specifier.startsWith(".")) {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier))
    return target.startsWith("gateway/") || target.startsWith("schema/") ? undefined : `${file} → ${target}`
  }
  return /^effect(\/.*)?$/.test(specifier) || specifier.startsWith("node:") ? undefined : `${file} → ${specifier}`
}

describe("the gateway library", () => {
  const files = readdirSync(path.join(root, "gateway")).filter((f) => f.endsWith(".ts")).map((f) => `gateway/${f}`)

  it("has modules", () => {
    expect(files).toContain("gateway/index.ts")
  })

  it.each(files)("%s imports only schema/, effect and node built-ins", (file) => {
    expect(importsOf(file, { runtime: false }).flatMap((s) => violation(file, s) ?? [])).toEqual([])
  })

  it("the checker does catch a server import", () => {
    expect(violation("gateway/Client.ts", "../src/identity/RequestSignature.js")).toBeDefined()
    expect(violation("gateway/Client.ts", "pg")).toBeDefined()
  })
})
