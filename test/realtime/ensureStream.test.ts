/** Creating a stream when several nodes start together (addOrUpdateStream), on a fake manager. */
import { describe, expect, it } from "vitest"
import type { JetStreamManager, StreamInfo } from "nats"
import { addOrUpdateStream } from "../../src/realtime/nats/EnsureStream.js"

const info = { config: { name: "S" } } as unknown as StreamInfo
const manager = (add: () => Promise<StreamInfo>, update: () => Promise<StreamInfo>) =>
  ({ streams: { add, update } }) as unknown as JetStreamManager
const fail = (message: string) => () => Promise.reject(new Error(message))

describe("addOrUpdateStream", () => {
  it("adds the stream when it does not exist", async () => {
    await expect(addOrUpdateStream(manager(() => Promise.resolve(info), fail("unused")), "S", {}, {})).resolves.toBe(info)
  })

  it("updates the stream another node created first", async () => {
    await expect(addOrUpdateStream(manager(fail("stream name already in use"), () => Promise.resolve(info)), "S", {}, {}))
      .resolves.toBe(info)
  })

  it("reports the add's error when there is no stream to update (a cluster still electing, a timeout)", async () => {
    await expect(addOrUpdateStream(manager(fail("TIMEOUT"), fail("stream not found")), "S", {}, {})).rejects.toThrow("TIMEOUT")
  })

  it("reports the update's own error otherwise", async () => {
    await expect(addOrUpdateStream(manager(fail("stream name already in use"), fail("replicas > 1 not supported")), "S", {}, {}))
      .rejects.toThrow("replicas > 1")
  })
})
