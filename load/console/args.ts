/** `--name value` options with defaults; the type of each default decides how its value is read. */
export const parseArgs = (
  argv: ReadonlyArray<string>,
  defaults: Readonly<Record<string, string | number | boolean>>
): Readonly<Record<string, string | number | boolean>> => {
  const out: Record<string, string | number | boolean> = { ...defaults }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ""
    if (!arg.startsWith("--")) throw new Error(`unexpected argument ${arg}`)
    const name = arg.slice(2)
    if (!(name in defaults)) throw new Error(`unknown option --${name}; known: ${Object.keys(defaults).map((k) => `--${k}`).join(" ")}`)
    const fallback = defaults[name]
    if (typeof fallback === "boolean") {
      out[name] = true
      continue
    }
    const value = argv[++i]
    if (value === undefined) throw new Error(`--${name} needs a value`)
    if (typeof fallback === "number") {
      const n = Number(value)
      if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number`)
      out[name] = n
    } else {
      out[name] = value
    }
  }
  return out
}
