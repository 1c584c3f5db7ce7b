/**
 * Where a running server allocates: V8's sampling heap profiler over the inspector protocol,
 * counting objects that the garbage collector has already freed (Node's `--heap-prof` keeps only
 * what is still alive at exit, which says nothing about garbage). Prints the bytes allocated per
 * function over the window, and writes the whole profile for DevTools.
 *
 *     npm run load -- --rate 10000 --duration 30 --batch 500 --modes journal --node-arg=--inspect=9339 &
 *     sleep 12; NODE_OPTIONS=--experimental-websocket npx tsx load/alloc-profile.ts --port 9339 --seconds 10
 *
 * Options: --port (the server's inspector port), --seconds (window), --out (profile file,
 * default tmp/alloc.heapprofile), --top (rows printed), --live (count only what is still alive at
 * the end of the window, after a full collection: where the live heap was allocated).
 */
import fs from "node:fs"
import path from "node:path"
import { parseOptions } from "./lib/args.js"

/** Node's global WebSocket (Node 20: behind `--experimental-websocket`); not in @types/node 20. */
declare const WebSocket: new (url: string) => {
  onopen: (() => void) | null
  onmessage: ((message: { readonly data: unknown }) => void) | null
  send(text: string): void
  close(): void
}

interface CallFrame { readonly functionName: string; readonly url: string; readonly lineNumber: number }
interface ProfileNode { readonly callFrame: CallFrame; readonly selfSize: number; readonly children: ReadonlyArray<ProfileNode> }

const args = parseOptions({ port: 9229, seconds: 10, out: "tmp/alloc.heapprofile", top: 40, live: false })

const targets = (await (await fetch(`http://127.0.0.1:${args.port}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>
if (targets[0] === undefined) throw new Error(`no inspector target on port ${args.port}`)
const socket = new WebSocket(targets[0].webSocketDebuggerUrl)
const waiting = new Map<number, (result: unknown) => void>()
let nextId = 0
socket.onmessage = (message) => {
  const reply = JSON.parse(String(message.data)) as { id?: number; result?: unknown; error?: unknown }
  if (reply.id === undefined) return
  if (reply.error !== undefined) throw new Error(JSON.stringify(reply.error))
  waiting.get(reply.id)?.(reply.result)
  waiting.delete(reply.id)
}
const call = <A>(method: string, params: object = {}) =>
  new Promise<A>((resolve) => {
    const id = ++nextId
    waiting.set(id, resolve as (result: unknown) => void)
    socket.send(JSON.stringify({ id, method, params }))
  })
await new Promise<void>((resolve) => (socket.onopen = resolve))

await call("HeapProfiler.enable")
await call("HeapProfiler.startSampling", {
  samplingInterval: 32_768,
  includeObjectsCollectedByMajorGC: !args.live,
  includeObjectsCollectedByMinorGC: !args.live
})
await new Promise((resolve) => setTimeout(resolve, args.seconds * 1000))
if (args.live) await call("HeapProfiler.collectGarbage")
const { profile } = await call<{ profile: { head: ProfileNode } }>("HeapProfiler.stopSampling")
socket.close()
fs.mkdirSync(path.dirname(args.out), { recursive: true })
fs.writeFileSync(args.out, JSON.stringify(profile))

const bytes = new Map<string, number>()
let total = 0
const walk = (node: ProfileNode): void => {
  const frame = node.callFrame
  const key = `${frame.functionName || "(anonymous)"} ${frame.url.replace(/.*\//, "")}:${frame.lineNumber + 1}`
  bytes.set(key, (bytes.get(key) ?? 0) + node.selfSize)
  total += node.selfSize
  node.children.forEach(walk)
}
walk(profile.head)
console.log(args.live
  ? `still alive (sampled) ${(total / 1e6).toFixed(0)} MB of what was allocated in the last ${args.seconds} s; profile in ${args.out}`
  : `allocated (sampled) ${(total / 1e6).toFixed(0)} MB in ${args.seconds} s = ${(total / 1e6 / args.seconds).toFixed(1)} MB/s; profile in ${args.out}`)
for (const [key, size] of [...bytes].sort((a, b) => b[1] - a[1]).slice(0, args.top)) {
  console.log(`${(size / 1e6).toFixed(1).padStart(8)} MB ${((100 * size) / total).toFixed(1).padStart(5)} %  ${key}`)
}
