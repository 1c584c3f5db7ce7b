/**
 * Reads spilled records back from their segments for `takeSpilled`. Neighbouring records are
 * read with one `read` per span; every record is verified again (magic, length, CRC), since
 * the disk may have damaged it after it was written.
 */
import { Effect } from "effect"
import { HEADER_BYTES, type SegmentState, verifyRecordAt } from "./Format.js"
import { FsError, type JournalFile, JournalFs } from "./JournalFs.js"
import type { SpillEntry } from "./Ledger.js"

export type ReadResult =
  | { readonly _tag: "Read"; readonly entry: SpillEntry; readonly payload: Uint8Array }
  /** Failed verification on read-back. */
  | { readonly _tag: "Corrupt"; readonly entry: SpillEntry }
  /** The segment is gone: only possible when its records were committed meanwhile. */
  | { readonly _tag: "Gone"; readonly entry: SpillEntry }

const MAX_SPAN = 8 * 1024 * 1024
const MAX_GAP = 64 * 1024

const readFully = (file: JournalFile, into: Uint8Array, position: number) =>
  Effect.gen(function* () {
    let at = 0
    while (at < into.length) {
      const n = yield* file.read(into, at, into.length - at, position + at)
      if (n === 0) break
      at += n
    }
    return into.subarray(0, at)
  })

const spans = (entries: ReadonlyArray<SpillEntry>): Array<Array<SpillEntry>> => {
  const out: Array<Array<SpillEntry>> = []
  let current: Array<SpillEntry> = []
  let start = 0
  let end = 0
  for (const entry of entries) {
    const entryEnd = entry.offset + HEADER_BYTES + entry.length
    if (current.length > 0 && entry.offset >= end && entry.offset - end <= MAX_GAP && entryEnd - start <= MAX_SPAN) {
      current.push(entry)
      end = entryEnd
      continue
    }
    if (current.length > 0) out.push(current)
    current = [entry]
    start = entry.offset
    end = entryEnd
  }
  if (current.length > 0) out.push(current)
  return out
}

/** Opens a segment under whichever name it has now (a roll may rename it mid-read). */
const openSegment = (paths: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const fs = yield* JournalFs
    let last: FsError | undefined
    for (const path of paths) {
      const opened = yield* Effect.either(fs.open(path, "read"))
      if (opened._tag === "Right") return opened.right
      last = opened.left
      if (opened.left.code !== "ENOENT") return yield* opened.left
    }
    return yield* (last ?? new FsError({ op: "open", path: "", code: "ENOENT", message: "no segment path" }))
  })

export const readBack = (
  entries: ReadonlyArray<SpillEntry>,
  pathsOf: (segment: number) => ReadonlyArray<string>
): Effect.Effect<Array<ReadResult>, FsError, JournalFs> =>
  Effect.gen(function* () {
    const results: Array<ReadResult> = []
    let i = 0
    while (i < entries.length) {
      const segment = entries[i]!.segment
      let j = i
      while (j < entries.length && entries[j]!.segment === segment) j++
      const group = entries.slice(i, j)
      i = j
      const opened = yield* Effect.either(openSegment(pathsOf(segment)))
      if (opened._tag === "Left") {
        if (opened.left.code !== "ENOENT") return yield* opened.left
        for (const entry of group) results.push({ _tag: "Gone", entry })
        continue
      }
      const file = opened.right
      yield* Effect.gen(function* () {
        for (const span of spans(group)) {
          const first = span[0]!
          const last = span[span.length - 1]!
          const length = last.offset + HEADER_BYTES + last.length - first.offset
          const data = yield* readFully(file, new Uint8Array(length), first.offset)
          for (const entry of span) {
            const at = entry.offset - first.offset
            results.push(
              verifyRecordAt(data, at) === entry.length
                ? { _tag: "Read", entry, payload: data.slice(at + HEADER_BYTES, at + HEADER_BYTES + entry.length) }
                : { _tag: "Corrupt", entry }
            )
          }
        }
      }).pipe(Effect.ensuring(Effect.ignore(file.close)))
    }
    return results
  })
