import { describe, expect, it } from "@effect/vitest"
import { crc32c } from "../../src/journal/Crc32c.js"
import {
  encodeRecords,
  HEADER_BYTES,
  parseSegmentFileName,
  scanSegment,
  segmentFileName
} from "../../src/journal/Format.js"
import { payload } from "./support.js"

const bytesOf = (text: string) => new TextEncoder().encode(text)

describe("CRC-32C", () => {
  it("matches the standard check values", () => {
    expect(crc32c(bytesOf("123456789"))).toBe(0xe3069283)
    expect(crc32c(new Uint8Array(0))).toBe(0)
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa)
  })

  it("agrees with a bit-at-a-time reference at every length and alignment", () => {
    const reference = (data: Uint8Array) => {
      let c = 0xffffffff
      for (const byte of data) {
        c ^= byte
        for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1
      }
      return (c ^ 0xffffffff) >>> 0
    }
    const data = Uint8Array.from({ length: 100 }, (_, i) => (i * 37 + 11) & 0xff)
    for (let start = 0; start < 9; start++) {
      for (let end = start; end <= data.length; end += 7) {
        expect(crc32c(data, start, end)).toBe(reference(data.subarray(start, end)))
      }
    }
  })
})

describe("segment format", () => {
  it("names segments with 16 digits and parses them back", () => {
    expect(segmentFileName(42, "open")).toBe("0000000000000042.open")
    expect(segmentFileName(42, "seg")).toBe("0000000000000042.seg")
    expect(parseSegmentFileName("0000000000000042.seg")).toEqual({ segment: 42, state: "seg" })
    expect(parseSegmentFileName("0000000000000007.open")).toEqual({ segment: 7, state: "open" })
    expect(parseSegmentFileName("42.seg")).toBeUndefined()
    expect(parseSegmentFileName("0000000000000042.seg.tmp")).toBeUndefined()
  })

  const three = () => encodeRecords([payload(1, 100), payload(2, 200), payload(3, 50)])

  it("scans back what it encoded", () => {
    const { bytes, offsets } = three()
    expect(offsets).toEqual([0, HEADER_BYTES + 100, 2 * HEADER_BYTES + 300])
    const scan = scanSegment(bytes)
    expect(scan.records).toEqual([
      { offset: 0, length: 100 },
      { offset: 112, length: 200 },
      { offset: 324, length: 50 }
    ])
    expect(scan.damaged).toEqual([])
    expect(scan.tail).toBeUndefined()
    expect(scan.goodEnd).toBe(bytes.length)
  })

  it("skips a record whose payload has a flipped byte and keeps its neighbours", () => {
    const { bytes } = three()
    bytes[112 + HEADER_BYTES + 5]! ^= 0x01
    const scan = scanSegment(bytes)
    expect(scan.records.map((r) => r.offset)).toEqual([0, 324])
    expect(scan.damaged).toEqual([{ offset: 112, bytes: 212, reason: "checksum" }])
    expect(scan.tail).toBeUndefined()
  })

  it("resynchronises after a corrupted length field", () => {
    for (const length of [0x7fffffff, 20, 300]) {
      const { bytes } = three()
      new DataView(bytes.buffer).setUint32(112 + 4, length)
      const scan = scanSegment(bytes)
      expect(scan.records.map((r) => r.offset)).toEqual([0, 324])
      expect(scan.damaged).toHaveLength(1)
      expect(scan.damaged[0]).toMatchObject({ offset: 112, bytes: 212 })
    }
  })

  it("reports a torn tail: partial header, partial payload, or a bad checksum on the last record", () => {
    const { bytes } = three()
    for (const cut of [324 + 5, 324 + HEADER_BYTES + 10]) {
      const scan = scanSegment(bytes.subarray(0, cut))
      expect(scan.records).toHaveLength(2)
      expect(scan.goodEnd).toBe(324)
      expect(scan.tail).toMatchObject({ offset: 324, bytes: cut - 324 })
    }
    const flipped = bytes.slice()
    flipped[flipped.length - 1]! ^= 0xff
    expect(scanSegment(flipped).tail).toEqual({ offset: 324, bytes: 62, reason: "checksum" })
  })

  it("treats zero-filled space after the records as tail, and zeros between records as damage", () => {
    const { bytes } = three()
    const padded = new Uint8Array(bytes.length + 4096)
    padded.set(bytes)
    expect(scanSegment(padded).tail).toMatchObject({ offset: bytes.length, bytes: 4096, reason: "magic" })
    const holed = bytes.slice()
    holed.fill(0, 112, 324)
    const scan = scanSegment(holed)
    expect(scan.records.map((r) => r.offset)).toEqual([0, 324])
    expect(scan.damaged).toEqual([{ offset: 112, bytes: 212, reason: "magic" }])
  })
})
