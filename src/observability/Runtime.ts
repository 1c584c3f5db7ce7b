/**
 * Process health as metrics: event-loop delay (every request and flush waits behind whatever
 * holds the loop), garbage-collection pauses, heap and resident memory. Sampled every 5 s.
 */
import { Effect, Layer, Metric, MetricBoundaries, Schedule } from "effect"
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks"

const loopDelayP99 = Metric.gauge("process_event_loop_delay_p99_seconds", {
  description: "99th percentile event-loop delay over the last 5 s"
})
const loopDelayMax = Metric.gauge("process_event_loop_delay_max_seconds", {
  description: "Longest event-loop delay over the last 5 s"
})
const residentMemory = Metric.gauge("process_resident_memory_bytes", { description: "Resident set size" })
const heapUsed = Metric.gauge("nodejs_heap_used_bytes", { description: "V8 heap in use" })
const heapTotal = Metric.gauge("nodejs_heap_total_bytes", {
  description: "V8 heap reserved (in use plus what the collector keeps for new objects)"
})
const external = Metric.gauge("nodejs_external_bytes", {
  description: "Memory of objects outside the V8 heap (buffers, strings of native modules)"
})
const gcPause = Metric.histogram(
  "nodejs_gc_pause_seconds",
  MetricBoundaries.fromIterable([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]),
  "Garbage-collection pauses"
)

export const RuntimeMetricsLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const delay = monitorEventLoopDelay({ resolution: 10 })
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) gcPause.unsafeUpdate(entry.duration / 1000, [])
    })
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        delay.enable()
        observer.observe({ entryTypes: ["gc"] })
      }),
      () =>
        Effect.sync(() => {
          delay.disable()
          observer.disconnect()
        })
    )
    const sample = Effect.gen(function*() {
      const memory = process.memoryUsage()
      yield* Metric.set(loopDelayP99, delay.percentile(99) / 1e9)
      yield* Metric.set(loopDelayMax, delay.max / 1e9)
      yield* Metric.set(residentMemory, memory.rss)
      yield* Metric.set(heapUsed, memory.heapUsed)
      yield* Metric.set(heapTotal, memory.heapTotal)
      yield* Metric.set(external, memory.external)
      delay.reset()
    })
    yield* sample.pipe(Effect.repeat(Schedule.spaced("5 seconds")), Effect.forkScoped)
  })
)
