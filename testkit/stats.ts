export const percentile = (sorted: ReadonlyArray<number>, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index]!
}

export const summary = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? Number.NaN }
}

/** p-quantile from a Prometheus histogram (cumulative buckets), linear within the bucket. */
export const histogramQuantile = (buckets: ReadonlyArray<readonly [number, number]>, q: number): number => {
  const total = buckets[buckets.length - 1]?.[1] ?? 0
  if (total === 0) return Number.NaN
  const rank = q * total
  let previous: readonly [number, number] = [0, 0]
  for (const bucket of buckets) {
    if (bucket[1] >= rank) {
      if (!Number.isFinite(bucket[0])) return previous[0]
      const width = bucket[0] - previous[0]
      const inBucket = bucket[1] - previous[1]
      return previous[0] + (inBucket === 0 ? 0 : (width * (rank - previous[1])) / inBucket)
    }
    previous = bucket
  }
  return previous[0]
}

export const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a")
