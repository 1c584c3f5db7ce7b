/**
 * The journal feature's entry point: the `Journal` port, its disk implementation and its
 * in-memory fake. See `Format.ts` for the on-disk format and `JournalLive.ts` for group commit.
 */
export * from "./Service.js"
export { JournalLive, JournalLiveWith, type JournalOptions, makeJournal } from "./JournalLive.js"
export { JournalInMemory, makeJournalInMemory, type JournalInMemoryOptions } from "./JournalInMemory.js"
export { JournalFromConfig } from "./JournalConfig.js"
