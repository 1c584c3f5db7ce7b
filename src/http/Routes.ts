/**
 * The route a request will reach, decided the way the router decides it: find-my-way (under
 * `HttpRouter`) collapses duplicate slashes, percent-decodes, ignores a trailing slash and
 * matches case-insensitively, so `/V1/vendor/stats` and `/v1/%76endor/stats` are the same
 * route as `/v1/vendor/stats`. The role gate and the metrics' `route` label use the matched
 * template, never the raw text: the gate cannot be walked around by spelling, and a label
 * takes only the contract's templates (plus "other").
 */
import * as HttpApi from "@effect/platform/HttpApi"
import type { Role } from "../config/AppConfig.js"
import { Api } from "./Api.js"

export interface MatchedRoute {
  /** The contract's path template, e.g. "/v1/vendor/endpoints/:id". */
  readonly template: string
  readonly group: string
}

/** Served beside the contract (docs layers). */
const EXTRA: ReadonlyArray<MatchedRoute> = [
  { template: "/openapi.json", group: "docs" },
  { template: "/docs", group: "docs" }
]

/** Which role serves which group; groups not listed are served by every process. */
const GROUP_ROLES: Readonly<Record<string, Role>> = {
  ingest: "receiver",
  realtime: "api",
  consoleVendor: "api",
  consoleAgent: "api",
  consoleAdmin: "api"
}

/** Path prefixes of each role, for paths that match no route (still refused by role, then 404). */
const PREFIX_ROLES: ReadonlyArray<readonly [string, Role]> = [
  ["/v1/ingest", "receiver"],
  ["/v1/vendor", "api"],
  ["/v1/agent", "api"],
  ["/v1/admin", "api"],
  ["/v1/telemetry", "api"]
]

/** The path as the router sees it, or undefined when it cannot be decoded (the router: 404). */
export const normalizePath = (url: string): string | undefined => {
  const raw = url.split("?", 1)[0]?.split("#", 1)[0] ?? ""
  let path: string
  try {
    path = decodeURIComponent(raw.replace(/\/{2,}/g, "/"))
  } catch {
    return undefined
  }
  if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1)
  return path.toLowerCase()
}

const routes: ReadonlyArray<MatchedRoute & { readonly segments: ReadonlyArray<string> }> = (() => {
  const found: Array<MatchedRoute> = [...EXTRA]
  HttpApi.reflect(Api, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, group }) => {
      if (!found.some((r) => r.template === endpoint.path)) found.push({ template: endpoint.path, group: group.identifier })
    }
  })
  // Static templates before parameterised ones, as the router prefers them.
  return found
    .map((r) => ({ ...r, segments: r.template.toLowerCase().split("/") }))
    .sort((a, b) => Number(a.template.includes(":")) - Number(b.template.includes(":")))
})()

/** The contract route `url` reaches (method aside), if any. */
export const matchRoute = (url: string): MatchedRoute | undefined => {
  const path = normalizePath(url)
  if (path === undefined) return undefined
  const segments = path.split("/")
  const route = routes.find((r) =>
    r.segments.length === segments.length &&
    r.segments.every((s, i) => (s.startsWith(":") ? (segments[i] ?? "").length > 0 : s === segments[i]))
  )
  return route === undefined ? undefined : { template: route.template, group: route.group }
}

/** The role a request needs, judged on the matched route, else on the normalized path. */
export const roleOf = (url: string, matched: MatchedRoute | undefined): Role | undefined => {
  if (matched !== undefined) return GROUP_ROLES[matched.group]
  const path = normalizePath(url) ?? ""
  return PREFIX_ROLES.find(([prefix]) => path === prefix || path.startsWith(`${prefix}/`))?.[1]
}
