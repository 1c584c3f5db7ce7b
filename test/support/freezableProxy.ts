/**
 * A TCP proxy to PostgreSQL that can make the connections it carries hang: after `freeze()` no
 * byte flows either way on them and nothing is closed (a network black hole); connections
 * opened after the freeze flow normally. `blackHole()` freezes them and also holds every new
 * connection unanswered until `thaw()` (a client cannot dodge the hang by opening a new one).
 */
import * as net from "node:net"

export interface FreezableProxy {
  readonly port: number
  readonly freeze: () => void
  readonly blackHole: () => void
  readonly thaw: () => void
  readonly close: () => void
}

export const startFreezableProxy = (target: URL): Promise<FreezableProxy> =>
  new Promise((resolve) => {
    const live = new Set<readonly [net.Socket, net.Socket]>()
    const all = new Set<net.Socket>()
    let holding = false
    const server = net.createServer((client) => {
      if (holding) {
        all.add(client)
        client.pause()
        client.on("error", () => undefined).on("close", () => all.delete(client))
        return
      }
      const upstream = net.connect(Number(target.port || 5432), target.hostname)
      client.pipe(upstream)
      upstream.pipe(client)
      const pair = [client, upstream] as const
      live.add(pair)
      for (const socket of pair) {
        all.add(socket)
        socket.on("error", () => undefined).on("close", () => {
          live.delete(pair)
          all.delete(socket)
        })
      }
    })
    const freeze = () => {
      for (const [client, upstream] of live) {
        client.unpipe(upstream)
        upstream.unpipe(client)
        client.pause()
        upstream.pause()
      }
      live.clear()
    }
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        freeze,
        blackHole: () => {
          holding = true
          freeze()
        },
        thaw: () => {
          holding = false
        },
        close: () => {
          server.close()
          for (const socket of all) socket.destroy()
        }
      }))
  })

/** `url` with its host and port replaced by the proxy's. */
export const throughProxy = (url: string, proxy: FreezableProxy): string => {
  const via = new URL(url)
  via.host = `127.0.0.1:${proxy.port}`
  return via.toString()
}
