/**
 * The on-disk format of the journal — pure functions, no I/O.
 *
 * Directory: one file per segment, named by a 16-digit, monotonically increasing number.
 *   `0000000000000042.open`  the active segment (at most one is written at a time)
 *   `0000000000000041.seg`   a sealed segment: fsynced, then atomically renamed from `.open`
 * Other names in the directory are ignored.
 *
 * A segment is a plain sequence of records, no file header:
 *
 *   offset  size  field
 *   0       4     magic      FF 4D 50 4A  ("\xFFMPJ"; 0xFF never occurs in UTF-8, so a JSON
 *                            payload cannot contain it — a resync cannot stop inside one)
 *   4       4     length     payload length in bytes, unsigned big-endian
 *   8       4     checksum   CRC-32C of the payload, unsigned big-endian
 *   12      n     payload    opaque bytes
 *
 * A record's address (`RecordRef`) is its segment number and the byte offset of its magic.
 * Reading a segment: at each position expect the magic, a plausible length and a matching
 * checksum. Anything else is damage: the scanner looks forward for the next position where a
 * whole record verifies ("resync") and reports the skipped bytes. Damage that runs to the end
 * of the data is a torn tail — the write a crash interrupted.
 */
import { crc32c } from "./Crc32c.js"

export const MAGIC = 0xff4d504a
const MAGIC_BYTES = Uint8Array.of(0xff, 0x4d, 0x50, 0x4a)
export const HEADER_BYTES = 12
/** Hard ceiling for one payload; a larger length field is damage by definition. */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024

export const encodedSize = (payloadBytes: number): number => HEADER_BYTES + payloadBytes

/** Writes one record at `at` in `target` and returns the offset after it. */
export const encodeInto = (target: Uint8Array, at: number, payload: Uint8Array): number => {
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength)
  view.setUint32(at, MAGIC)
  view.setUint32(at + 4, payload.length)
  view.setUint32(at + 8, crc32c(payload))
  target.set(payload, at + HEADER_BYTES)
  return at + HEADER_BYTES + payload.length
}

/** The records of one append, back to back, and each one's offset inside the buffer. */
export const encodeRecords = (payloads: ReadonlyArray<Uint8Array>): {
  readonly bytes: Uint8Array
  readonly offsets: ReadonlyArray<number>
} => {
  let total = 0
  for (const payload of payloads) total += encodedSize(payload.length)
  const bytes = new Uint8Array(total)
  const offsets: Array<number> = []
  let at = 0
  for (const payload of payloads) {
    offsets.push(at)
    at = encodeInto(bytes, at, payload)
  }
  return { bytes, offsets }
}

export type SegmentState = "open" | "seg"

export const segmentFileName = (segment: number, state: SegmentState): string =>
  `${String(segment).padStart(16, "0")}.${state}`

const SEGMENT_NAME = /^(\d{16})\.(open|seg)$/

export const parseSegmentFileName = (name: string): { readonly segment: number; readonly state: SegmentState } | undefined => {
  const match = SEGMENT_NAME.exec(name)
  if (!match) return undefined
  const segment = Number(match[1])
  return Number.isSafeInteger(segment) ? { segment, state: match[2] === "open" ? "open" : "seg" } : undefined
}

/** Payload length if a whole, verified record starts at `at`; otherwise undefined. */
export const verifyRecordAt = (data: Uint8Array, at: number): number | undefined => {
  if (at + HEADER_BYTES > data.length) return undefined
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  if (view.getUint32(at) !== MAGIC) return undefined
  const length = view.getUint32(at + 4)
  if (length > MAX_PAYLOAD_BYTES || at + HEADER_BYTES + length > data.length) return undefined
  const start = at + HEADER_BYTES
  return crc32c(data, start, start + length) === view.getUint32(at + 8) ? length : undefined
}

export interface ScannedRecord {
  readonly offset: number
  readonly length: number
}

/** Bytes between two intact records (or before the first) that did not verify. */
export interface DamagedRegion {
  readonly offset: number
  readonly bytes: number
  /** What was found at `offset`: a record whose checksum failed, a bad length, or no magic. */
  readonly reason: "checksum" | "length" | "magic"
}

export interface SegmentScan {
  /** Intact records, in file order. */
  readonly records: ReadonlyArray<ScannedRecord>
  /** Damage followed by at least one intact record: skipped, reported, left on disk. */
  readonly damaged: ReadonlyArray<DamagedRegion>
  /** Damage that runs to the end of the data (a torn or otherwise unverifiable tail). */
  readonly tail: DamagedRegion | undefined
  /** End of the last intact record: where the segment is cut when the tail is torn. */
  readonly goodEnd: number
}

const describe = (data: Uint8Array, at: number): DamagedRegion["reason"] => {
  if (at + HEADER_BYTES > data.length) return "length"
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  if (view.getUint32(at) !== MAGIC) return "magic"
  const length = view.getUint32(at + 4)
  return length > MAX_PAYLOAD_BYTES || at + HEADER_BYTES + length > data.length ? "length" : "checksum"
}

/** Next offset after `from` where a whole record verifies, or undefined. */
const resync = (data: Uint8Array, from: number): number | undefined => {
  const haystack = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  let at = haystack.indexOf(MAGIC_BYTES, from)
  while (at !== -1) {
    if (verifyRecordAt(data, at) !== undefined) return at
    at = haystack.indexOf(MAGIC_BYTES, at + 1)
  }
  return undefined
}

export const scanSegment = (data: Uint8Array): SegmentScan => {
  const records: Array<ScannedRecord> = []
  const damaged: Array<DamagedRegion> = []
  let at = 0
  while (at < data.length) {
    const length = verifyRecordAt(data, at)
    if (length !== undefined) {
      records.push({ offset: at, length })
      at += HEADER_BYTES + length
      continue
    }
    const reason = describe(data, at)
    const next = resync(data, at + 1)
    if (next === undefined) {
      return { records, damaged, tail: { offset: at, bytes: data.length - at, reason }, goodEnd: at }
    }
    damaged.push({ offset: at, bytes: next - at, reason })
    at = next
  }
  return { records, damaged, tail: undefined, goodEnd: at }
}
