/**
 * Small helpers shared by the tests (one copy each): a free TCP port, a plain sleep.
 * Deliberately free of server imports, so the global setup and any test may use it.
 */
import * as net from "node:net"

/** A port nothing listens on right now (the OS picks it; closed again before returning). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))))
    })
  })

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
