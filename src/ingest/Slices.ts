/**
 * Per-event work on a large request, in slices: between two slices the event loop runs, so
 * other gateways' requests are read and answered, flush results are settled and SSE streams are
 * written. Without it a 10,000-event request (the limit) held the loop for its whole validation
 * and admission, a quarter to half a second on this machine, and every other tenant waited.
 *
 * The yield is a macrotask (`setImmediate`), not `Effect.yieldNow`: a fiber resumed from a
 * microtask would run again before any I/O callback.
 */
import { Effect } from "effect"

/** Events handled between two yields: about 10 ms of validation and encoding on this machine. */
export const SLICE_EVENTS = 500

/** Lets pending I/O callbacks and timers run, then goes on. */
export const yieldToEventLoop: Effect.Effect<void> = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/**
 * Calls `f` on each item in order, synchronously within a slice of `sliceSize` items, yielding
 * to the event loop before each slice after the first (a request of one slice never yields).
 */
export const forEachInSlices = <A>(
  items: ReadonlyArray<A>,
  f: (item: A, index: number) => void,
  sliceSize: number = SLICE_EVENTS
): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let start = 0; start < items.length; start += sliceSize) {
      if (start > 0) yield* yieldToEventLoop
      const end = Math.min(items.length, start + sliceSize)
      for (let i = start; i < end; i++) f(items[i]!, i)
    }
  })
