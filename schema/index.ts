/** The wire contract: every event, envelope and ingest shape. */
export * from "./CloudEvent.js"
export * from "./events/index.js"
export * from "./Ids.js"
export * from "./Ingest.js"
export * from "./Money.js"
export * from "./ParseErrors.js"
export * from "./Primitives.js"
export * from "./Time.js"
