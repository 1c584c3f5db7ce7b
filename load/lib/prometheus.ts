/** Reading the server's `/metrics` text (Prometheus exposition format) in the benchmarks. */
import { fmt, histogramQuantile } from "../../testkit/stats.js"

interface Sample {
  readonly name: string
  readonly labels: ReadonlyMap<string, string>
  readonly value: number
}

const LINE = /^([A-Za-z_:][\w:]*)(?:\{([^}]*)\})? (\S+)/
const LABEL = /([A-Za-z_]\w*)="((?:[^"\\]|\\.)*)"/g

export const parseMetrics = (text: string): ReadonlyArray<Sample> =>
  text.split("\n").flatMap((line) => {
    const m = LINE.exec(line)
    if (m === null) return []
    const labels = new Map([...(m[2] ?? "").matchAll(LABEL)].map((l) => [l[1]!, l[2]!] as const))
    return [{ name: m[1]!, labels, value: m[3] === "+Inf" ? Number.POSITIVE_INFINITY : Number(m[3]) }]
  })

const matching = (samples: ReadonlyArray<Sample>, name: string, labels: Readonly<Record<string, string>>) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels.get(k) === v))

/** The first sample of `name` with these labels (0 when absent). */
export const valueOf = (samples: ReadonlyArray<Sample>, name: string, labels: Readonly<Record<string, string>> = {}): number =>
  matching(samples, name, labels)[0]?.value ?? 0

/** Cumulative buckets `[le, count]` of a histogram, summed over label sets that match. */
export const bucketsOf = (
  samples: ReadonlyArray<Sample>,
  name: string,
  labels: Readonly<Record<string, string>> = {}
): ReadonlyArray<readonly [number, number]> => {
  const byLe = new Map<number, number>()
  for (const s of matching(samples, `${name}_bucket`, labels)) {
    const le = s.labels.get("le") === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels.get("le"))
    byLe.set(le, (byLe.get(le) ?? 0) + s.value)
  }
  return [...byLe].sort((a, b) => a[0] - b[0])
}

export const quantileMs = (
  samples: ReadonlyArray<Sample>,
  name: string,
  q: number,
  labels: Readonly<Record<string, string>> = {}
): string => fmt(histogramQuantile(bucketsOf(samples, name, labels), q) * 1000)
