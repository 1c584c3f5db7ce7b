/** Journal metrics (Effect `Metric`, exported as Prometheus text at `/metrics`). */
import { Metric, MetricBoundaries } from "effect"

export const bytes = Metric.gauge("journal_bytes", { description: "Bytes of journal segment files on disk" })

export const maxBytes = Metric.gauge("journal_max_bytes", {
  description: "The journal's cap (JOURNAL_MAX_BYTES): appends beyond it are refused with 503"
})

export const segments = Metric.gauge("journal_segments", { description: "Journal segment files on disk" })

export const appended = Metric.counter("journal_appended_total", {
  description: "Records appended to the journal",
  incremental: true
})

export const spilled = Metric.counter("journal_spilled_total", {
  description: "Records appended as spilled (kept only on disk until replayed)",
  incremental: true
})

export const replayed = Metric.counter("journal_replayed_total", {
  description: "Records read back from the journal for replay (spilled and recovered at start)",
  incremental: true
})

export const corruptRecords = Metric.counter("journal_corrupt_records_total", {
  description: "Damaged records skipped (checksum, length or magic) at recovery or read-back",
  incremental: true
})

export const oldestUncommittedAge = Metric.gauge("journal_oldest_uncommitted_age_seconds", {
  description: "Age of the oldest journal record not yet committed to PostgreSQL (0 when none)"
})

export const fsyncs = Metric.counter("journal_fsyncs_total", {
  description: "Syncs of journal segments: fdatasync calls, or writes to an O_DSYNC segment with fsync always (group commit makes this far lower than appends)",
  incremental: true
})

export const writeErrors = Metric.counter("journal_write_errors_total", {
  description: "Failed journal writes or fsyncs (ENOSPC, EIO, …); the appends were refused",
  incremental: true
})

const latency = MetricBoundaries.fromIterable([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1])

export const fsyncDuration = Metric.histogram("journal_fsync_duration_seconds", latency, "Duration of one sync: an fdatasync, or a write to an O_DSYNC segment")

export const appendDuration = Metric.histogram(
  "journal_append_duration_seconds",
  latency,
  "From an append call to its records being durable (queueing, write and the shared fsync)"
)
