/** The gateway client library: depends on the contract (`schema/`), `effect` and Node built-ins only. */
export * from "./Client.js"
export * from "./Health.js"
export * from "./Outbox.js"
export * from "./Send.js"
export * from "./Settlement.js"
export * from "./Signing.js"
export * from "./Window.js"
