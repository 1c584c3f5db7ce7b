/**
 * Is something growing? A least-squares slope over the second half of a soak's samples (the
 * first half includes warm-up: V8 sizing its heap, caches and the history ring filling), in
 * units per hour, compared with a limit. Noise (a GC just before or after a sample) averages out
 * over tens of samples; a leak of a few MB per hour does not.
 */

export interface Point {
  /** Seconds since the start of the run. */
  readonly t: number
  readonly value: number
}

/** Least-squares slope of `value` against `t`, per hour; NaN with fewer than 3 points. */
export const slopePerHour = (points: ReadonlyArray<Point>): number => {
  if (points.length < 3) return Number.NaN
  const n = points.length
  const meanT = points.reduce((s, p) => s + p.t, 0) / n
  const meanV = points.reduce((s, p) => s + p.value, 0) / n
  let num = 0
  let den = 0
  for (const p of points) {
    num += (p.t - meanT) * (p.value - meanV)
    den += (p.t - meanT) ** 2
  }
  return den === 0 ? Number.NaN : (num / den) * 3600
}

export interface GrowthCheck {
  readonly name: string
  readonly unit: string
  readonly slopePerHour: number
  readonly limitPerHour: number
  readonly first: number
  readonly last: number
  readonly ok: boolean
}

/** The samples from the middle of the run on; `t` of the last sample is taken as the run's end. */
export const secondHalf = <A extends { readonly t: number }>(samples: ReadonlyArray<A>): ReadonlyArray<A> => {
  const end = samples[samples.length - 1]?.t ?? 0
  return samples.filter((s) => s.t >= end / 2)
}

export const checkGrowth = (name: string, unit: string, points: ReadonlyArray<Point>, limitPerHour: number): GrowthCheck => {
  const slope = slopePerHour(points)
  return {
    name,
    unit,
    slopePerHour: slope,
    limitPerHour,
    first: points[0]?.value ?? Number.NaN,
    last: points[points.length - 1]?.value ?? Number.NaN,
    // Too few samples to tell is a failure too: a soak that cannot judge must not pass.
    ok: Number.isFinite(slope) && slope <= limitPerHour
  }
}
