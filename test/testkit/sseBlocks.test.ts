/** The SSE framing shared by the benchmark and end-to-end clients. */
import { describe, expect, it } from "vitest"
import { sseBlocks } from "../../testkit/sseBlocks.js"

describe("sseBlocks", () => {
  it("hands over complete blocks only, whatever the chunking", () => {
    const text = "id: 1-0\nevent: a\ndata: {}\n\n: heartbeat\n\nid: 2-0\nevent: b\ndata: {\"x\":1}\n\n"
    for (const size of [1, 2, 3, 7, text.length]) {
      const blocks: Array<string> = []
      const feed = sseBlocks((block) => blocks.push(block))
      for (let i = 0; i < text.length; i += size) feed(text.slice(i, i + size))
      expect(blocks).toEqual(["id: 1-0\nevent: a\ndata: {}", ": heartbeat", "id: 2-0\nevent: b\ndata: {\"x\":1}"])
    }
  })

  it("keeps an unfinished block until its blank line arrives", () => {
    const blocks: Array<string> = []
    const feed = sseBlocks((block) => blocks.push(block))
    feed("id: 1-0\ndata: {}\n")
    expect(blocks).toEqual([])
    feed("\n")
    expect(blocks).toEqual(["id: 1-0\ndata: {}"])
  })
})
