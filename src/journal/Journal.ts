/**
 * The journal feature's entry point: the `Journal` port, its disk implementation and its
 * in-memory fake. See `Format.ts` for the on-disk format and `JournalLive.ts` for group commit.
 *
 * Hand-written on purpose: a 202 promises the event's bytes are on disk, so appends must be
 * fdatasync'd before the answer with one fsync shared by every append that queued meanwhile
 * (group commit), in CRC-32C-framed records that recovery can cut at a torn write. No library we
 * keep offers that in Node; `load/journal-bench.ts` measures what it costs.
 */
export * from "./Service.js"
export { JournalLive, JournalLiveWith, type JournalOptions, makeJournal } from "./JournalLive.js"
export { JournalInMemory, makeJournalInMemory, type JournalInMemoryOptions } from "./JournalInMemory.js"
export { JournalFromConfig } from "./JournalConfig.js"
