/** The benchmarks' command lines: `--name value` options and `--name` switches. */
const argv = process.argv.slice(2)

export const flag = (name: string): boolean => argv.includes(`--${name}`)

export const option = (name: string, fallback: string): string => {
  const index = argv.indexOf(`--${name}`)
  return index >= 0 && argv[index + 1] !== undefined ? argv[index + 1]! : fallback
}

/** Every value given for a repeatable option, e.g. `--env A=1 --env B=2`. */
export const repeated = (name: string): ReadonlyArray<string> => argv.filter((_, i) => argv[i - 1] === `--${name}`)
