/**
 * The benchmarks' command lines on `node:util` `parseArgs`: `--name value` options and `--name`
 * switches, each declared by its default (the default's type decides how the value is read:
 * a number must be a non-negative number, a boolean is a switch), plus repeatable options
 * (`--env A=1 --env B=2`). Unknown options and stray arguments are refused with the known list.
 */
import { parseArgs } from "node:util"

type Defaults = Readonly<Record<string, string | number | boolean>>
type Parsed<D extends Defaults> = { readonly [K in keyof D]: D[K] extends number ? number : D[K] extends boolean ? boolean : string }

export const parseOptions = <D extends Defaults, R extends string = never>(
  defaults: D,
  repeatable: ReadonlyArray<R> = [],
  argv: ReadonlyArray<string> = process.argv.slice(2)
): Parsed<D> & { readonly [K in R]: ReadonlyArray<string> } => {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {}
  for (const [name, fallback] of Object.entries(defaults)) options[name] = { type: typeof fallback === "boolean" ? "boolean" : "string" }
  for (const name of repeatable) options[name] = { type: "string", multiple: true }
  let values: Record<string, unknown>
  try {
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values
  } catch (error) {
    const known = Object.keys(options).map((k) => `--${k}`).join(" ")
    throw new Error(`${error instanceof Error ? error.message : String(error)}; known: ${known}`)
  }
  const out: Record<string, unknown> = {}
  for (const [name, fallback] of Object.entries(defaults)) {
    const given = values[name]
    if (given === undefined) {
      out[name] = fallback
    } else if (typeof fallback === "number") {
      const n = Number(given)
      if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number`)
      out[name] = n
    } else {
      out[name] = given
    }
  }
  for (const name of repeatable) out[name] = values[name] ?? []
  return out as Parsed<D> & { readonly [K in R]: ReadonlyArray<string> }
}

/** `--env NAME=value` pairs as an environment object (pairs without `=` are ignored). */
export const envPairs = (pairs: ReadonlyArray<string>): Record<string, string> =>
  Object.fromEntries(pairs.flatMap((a) => (a.includes("=") ? [[a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]] : [])))
