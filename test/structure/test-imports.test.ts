/**
 * No test imports `load/`: the benchmarks are free to change (or break) without touching the
 * suite. What both need — the fault scenarios, the gateway fleet, the server launcher — lives
 * in `testkit/`, which imports neither `load/` nor `test/`.
 *
 * Every import is followed here, type-only ones included (a type from `load/` still couples a
 * test to it), and transitively through relative imports, so a test reaching `load/` through
 * `testkit/` or a support module fails too, with the chain that reaches it.
 */
import { describe, expect, it } from "@effect/vitest"
import { importsOf, resolveRelative, walk } from "./imports.js"

/** Every import chain from `entry` that reaches a file under one of `forbidden` (e.g. `load/`). */
const chainsInto = (entry: string, forbidden: ReadonlyArray<string>): Array<string> => {
  const violations: Array<string> = []
  const seen = new Set<string>([entry])
  const queue: Array<ReadonlyArray<string>> = [[entry]]
  while (queue.length > 0) {
    const chain = queue.shift()!
    const file = chain[chain.length - 1]!
    if (!file.endsWith(".ts")) continue
    for (const specifier of importsOf(file, { runtime: false })) {
      if (!specifier.startsWith(".")) continue
      const target = resolveRelative(file, specifier)
      if (target === undefined || seen.has(target)) continue
      seen.add(target)
      if (forbidden.some((dir) => target.startsWith(dir))) violations.push([...chain, target].join(" → "))
      else queue.push([...chain, target])
    }
  }
  return violations
}

describe("test/ and load/ stay apart", () => {
  const tests = walk("test").filter((f) => f.endsWith(".ts"))
  const testkit = walk("testkit").filter((f) => f.endsWith(".ts"))

  it("finds the files it checks", () => {
    expect(tests).toContain("test/e2e/faults.e2e.test.ts")
    expect(testkit).toContain("testkit/faults/scenarios.ts")
  })

  it("no file under test/ imports from load/, directly or through another module", () => {
    expect(tests.flatMap((file) => chainsInto(file, ["load/"]))).toEqual([])
  })

  it("testkit/ imports neither load/ nor test/", () => {
    expect(testkit.flatMap((file) => chainsInto(file, ["load/", "test/"]))).toEqual([])
  })

  it("the checker does catch an import of load/", () => {
    // load/soak.ts imports load/lib/args.ts: a known chain, as a self-test of the walker.
    expect(chainsInto("load/soak.ts", ["load/lib/"])).toContain("load/soak.ts → load/lib/args.ts")
  })
})
