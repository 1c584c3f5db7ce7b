/**
 * Creating a JetStream stream when several nodes start together: add it, or — when it exists —
 * bring it to the configured limits. When the update finds no stream, the add is what failed (a
 * cluster still electing its leader, a request timed out), so the add's error is the one
 * reported; the caller retries.
 */
import type { JetStreamManager, StreamConfig, StreamInfo, StreamUpdateConfig } from "nats"

const notFound = (error: unknown) => error instanceof Error && /stream not found/i.test(error.message)

export const addOrUpdateStream = async (
  jsm: JetStreamManager,
  name: string,
  config: Partial<StreamConfig>,
  update: Partial<StreamUpdateConfig>
): Promise<StreamInfo> => {
  try {
    return await jsm.streams.add(config)
  } catch (addError) {
    try {
      return await jsm.streams.update(name, update)
    } catch (updateError) {
      throw notFound(updateError) ? addError : updateError
    }
  }
}
