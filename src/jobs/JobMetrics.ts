/**
 * Effect metrics of the scheduled jobs (the /metrics exporter publishes every Effect metric).
 * Meanings are listed in docs/jobs.md. Dry runs do not touch them.
 */
import { Metric, MetricBoundaries } from "effect"

export const jobLastRunSeconds = Metric.gauge("jobs_last_run_timestamp_seconds", {
  description: "Unix time at which the job last finished, by job and status (ok, failed)"
})
export const jobLastSuccessSeconds = Metric.gauge("jobs_last_success_timestamp_seconds", {
  description: "Unix time at which the job last finished successfully"
})
export const jobDurationSeconds = Metric.gauge("jobs_last_duration_seconds", {
  description: "Duration of the job's last run"
})
export const jobRunsTotal = Metric.counter("jobs_runs_total", {
  description: "Job runs by job and status (ok, failed, skipped: lock held by another worker)"
})

export const rollupBucketsComputed = Metric.counter("rollup_buckets_computed_total", {
  description: "Hourly buckets written by the rollup, by kind (advance: new hours; dirty: late data recomputed)"
})
export const rollupBacklogBuckets = Metric.gauge("rollup_backlog_buckets", {
  description: "Dirty buckets below the watermark still waiting for recomputation after the last run"
})
export const rollupWatermarkLagSeconds = Metric.gauge("rollup_watermark_lag_seconds", {
  description: "Now minus the rollup watermark at the end of the last run (≈ 1 h right after a run)"
})
export const rollupWatermarkSeconds = Metric.gauge("rollup_watermark_timestamp_seconds", {
  description: "Unix time of the rollup watermark: every hour before it is rolled up"
})

export const partitionsCreatedTotal = Metric.counter("partitions_created_total", {
  description: "Daily partitions created, by table"
})
export const partitionsDroppedTotal = Metric.counter("partitions_dropped_total", {
  description: "Daily partitions dropped by retention, by table"
})
export const retentionWaitingPartitions = Metric.gauge("retention_waiting_partitions", {
  description: "Partitions past retention kept because the rollup has not covered them yet, by table"
})
export const defaultPartitionRows = Metric.gauge("partition_default_rows", {
  description: "Rows in a table's default partition (outside every daily partition); should be 0"
})

export const archiveIntentsTotal = Metric.counter("archive_intents_total", {
  description: "Payment intents moved to payment_intents_archive"
})
export const archiveEligibleIntents = Metric.gauge("archive_eligible_intents", {
  description: "Payment intents eligible for the archive left after the last run"
})

export const retentionRowsDeletedTotal = Metric.counter("retention_rows_deleted_total", {
  description: "Rows deleted by retention, by table and reason (age, size: the dead-letter cap)"
})
export const retentionBatchSeconds = Metric.histogram(
  "retention_batch_duration_seconds",
  MetricBoundaries.fromIterable([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]),
  "Duration of one retention delete batch (one short transaction), by table"
)
export const deadLettersStoredBytes = Metric.gauge("dead_letters_stored_bytes", {
  description: "Stored size of dead_letters rows after the last retention run (capped by RETENTION_DEAD_LETTERS_MAX_BYTES)"
})
