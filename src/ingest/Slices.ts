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

/**
 * Bytes handled between two yields, for work whose cost follows the size of the events (the
 * encoding at admission: about 5 ms per MB here). Five 1 MB events were one 25 ms piece.
 */
export const SLICE_BYTES = 512 * 1024

/** Lets pending I/O callbacks and timers run, then goes on. */
export const yieldToEventLoop: Effect.Effect<void> = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/**
 * Calls `f` on each item in order, synchronously within a slice, yielding to the event loop
 * between slices (a request of one slice never yields). A slice ends after `items` items, or
 * once the sizes `f` returns (bytes, say; nothing counts as 0) add up to `weight`.
 */
export const forEachInSlices = <A>(
  items: ReadonlyArray<A>,
  f: (item: A, index: number) => number | void,
  slice: { readonly items?: number; readonly weight?: number } = {}
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const maxItems = slice.items ?? SLICE_EVENTS
    const maxWeight = slice.weight ?? Infinity
    let inSlice = 0
    let weight = 0
    for (let i = 0; i < items.length; i++) {
      if (inSlice >= maxItems || weight >= maxWeight) {
        yield* yieldToEventLoop
        inSlice = 0
        weight = 0
      }
      weight += f(items[i]!, i) ?? 0
      inSlice += 1
    }
  })
