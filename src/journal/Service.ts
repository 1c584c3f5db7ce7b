/**
 * The journal port: a durable FIFO of opaque payloads behind ingest. Records are appended
 * (durably, per the fsync policy, before `append` returns), optionally queued as "spilled"
 * for the caller to read back with `takeSpilled`, and deleted from disk once the caller has
 * `commit`ted them (stored in PostgreSQL). Records found on disk at start-up are the first
 * spilled records, so they are replayed before anything new.
 */
import { Context, Data, type Effect } from "effect"

/** A record's address: segment number and byte offset of its header in that segment. */
export interface RecordRef {
  readonly segment: number
  readonly offset: number
}

export interface SpilledRecord {
  readonly ref: RecordRef
  readonly payload: Uint8Array
}

export type FsyncPolicy = "always" | "interval" | "never"

export interface JournalStats {
  /** Bytes of all segment files on disk (intact, damaged and committed-but-not-yet-deleted). */
  readonly bytes: number
  readonly segments: number
  /** Spilled or recovered records not yet handed out by `takeSpilled` (and not committed). */
  readonly spilledPending: number
  /** Epoch ms of the oldest record not yet committed (recovered records: their file's mtime). */
  readonly oldestUncommittedAt: number | undefined
  /** Records appended since start. */
  readonly appended: number
  /** Records read back from disk by `takeSpilled` since start (recovered and spilled). */
  readonly replayed: number
  /** Damaged records found at recovery or when reading back, since start. */
  readonly corruptRecords: number
}

export interface DamageReport {
  readonly segment: number
  readonly offset: number
  readonly bytes: number
  readonly reason: "checksum" | "length" | "magic"
}

/** What start-up recovery found: the records pending replay and the damage it cut or skipped. */
export interface RecoveryReport {
  readonly segments: number
  /** Intact records recovered, all queued for `takeSpilled` (oldest first). */
  readonly records: number
  readonly bytes: number
  /** Torn tails cut from `.open` segments (bytes removed from disk). */
  readonly truncated: ReadonlyArray<DamageReport>
  /** Damaged records skipped (left on disk, never replayed). */
  readonly corrupt: ReadonlyArray<DamageReport>
}

/** Appending would take the journal past its byte cap; nothing was written. Retryable later. */
export class JournalFull extends Data.TaggedError("JournalFull")<{
  readonly message: string
  readonly requestedBytes: number
  readonly usedBytes: number
  readonly maxBytes: number
}> {}

/** The disk refused (ENOSPC, EIO, …) or the journal is closed; nothing was acknowledged. */
export class JournalUnavailable extends Data.TaggedError("JournalUnavailable")<{
  readonly message: string
  readonly op: string
  /** errno code when the failure came from the file system. */
  readonly code: string | undefined
}> {}

export interface JournalService {
  /**
   * Appends the payloads as consecutive records and returns their refs, in order. Durable
   * per the fsync policy when it succeeds (`always`: fsynced, batched with concurrent appends).
   * `spilled: true` — the caller keeps no copy; the records are queued for `takeSpilled`.
   * All or nothing: on failure none of the payloads is acknowledged.
   */
  readonly append: (
    payloads: ReadonlyArray<Uint8Array>,
    options: { readonly spilled: boolean }
  ) => Effect.Effect<ReadonlyArray<RecordRef>, JournalFull | JournalUnavailable>
  /** Up to `max` of the oldest spilled/recovered records not yet taken, read back from disk. */
  readonly takeSpilled: (max: number) => Effect.Effect<ReadonlyArray<SpilledRecord>, JournalUnavailable>
  /** Marks records stored downstream; a sealed segment whose records are all committed is deleted. */
  readonly commit: (refs: ReadonlyArray<RecordRef>) => Effect.Effect<void>
  readonly stats: Effect.Effect<JournalStats>
  readonly recovery: RecoveryReport
}

export class Journal extends Context.Tag("Journal/Journal")<Journal, JournalService>() {}
