/**
 * The console REST contract: vendor, agent and admin groups, each behind the bearer
 * middleware for its role. Shapes live in `schema/api/Console*.ts`.
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiError from "@effect/platform/HttpApiError"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { ActivityPage, ActivityQuery, AgentSpending, SpendingQuery } from "../../schema/api/ConsoleAgent.js"
import { GatewaysPage, GatewaysQuery } from "../../schema/api/ConsoleAdmin.js"
import {
  CreateEndpoint,
  Endpoint,
  EndpointPath,
  EndpointsPage,
  EndpointsQuery,
  UpdateEndpoint
} from "../../schema/api/ConsoleEndpoints.js"
import {
  AlertsPage,
  AlertsQuery,
  ConsumersPage,
  ConsumersQuery,
  MetricsQuery,
  PaymentsPage,
  PaymentsQuery,
  RejectionsPage,
  RejectionsQuery,
  RevenueHistory,
  RevenueHistoryQuery,
  StatsQuery,
  VendorMetrics,
  VendorStats
} from "../../schema/api/ConsoleVendor.js"
import { AdminAuthentication, AgentAuthentication, VendorAuthentication } from "../auth/Authentication.js"
import { Conflict, NotFound, PayloadTooLarge, Unavailable } from "./Errors.js"

const describe = (text: string) => OpenApi.annotations({ description: text })

export class VendorConsoleApi extends HttpApiGroup.make("consoleVendor")
  .add(
    HttpApiEndpoint.get("stats", "/stats").setUrlParams(StatsQuery).addSuccess(VendorStats).annotateContext(
      describe("Totals over a range (default: the last 30 days): revenue per asset, payments, unique agents, blocked requests, error rate, p99 latency.")
    )
  )
  .add(
    HttpApiEndpoint.get("revenueHistory", "/revenue-history").setUrlParams(RevenueHistoryQuery).addSuccess(RevenueHistory)
      .annotateContext(describe("Revenue and payments per UTC day (default, last 30 days) or hour (default, last 48 hours), zero-filled."))
  )
  .add(
    HttpApiEndpoint.get("consumers", "/consumers").setUrlParams(ConsumersQuery).addSuccess(ConsumersPage)
      .annotateContext(describe("Agents that paid your gateways in the range, with spend, payments and first/last payment; sortable, paginated."))
  )
  .add(
    HttpApiEndpoint.get("listEndpoints", "/endpoints").setUrlParams(EndpointsQuery).addSuccess(EndpointsPage)
      .annotateContext(describe("Your priced routes, by id."))
  )
  .add(
    HttpApiEndpoint.get("getEndpoint", "/endpoints/:id").setPath(EndpointPath).addSuccess(Endpoint)
  )
  .add(
    HttpApiEndpoint.post("createEndpoint", "/endpoints").setPayload(CreateEndpoint).addSuccess(Endpoint, { status: 201 })
      .addError(PayloadTooLarge)
      .annotateContext(describe("Creates a priced route. 409 when you already price this method + path; 404 when gateway_id is not yours."))
  )
  .add(
    HttpApiEndpoint.patch("updateEndpoint", "/endpoints/:id").setPath(EndpointPath).setPayload(UpdateEndpoint)
      .addSuccess(Endpoint)
      .addError(PayloadTooLarge)
      .annotateContext(describe("Changes the given fields. 409 when the new method + path is taken."))
  )
  .add(
    HttpApiEndpoint.del("deleteEndpoint", "/endpoints/:id").setPath(EndpointPath).addSuccess(HttpApiSchema.NoContent)
  )
  .add(
    HttpApiEndpoint.get("metrics", "/metrics").setUrlParams(MetricsQuery).addSuccess(VendorMetrics)
      .annotateContext(describe("Traffic and latency per hour (default: the last 24 hours) from the hourly rollups, with hours not rolled up yet (the current one) read live from the 60 s packets; per-route figures for the last hour."))
  )
  .add(
    HttpApiEndpoint.get("payments", "/payments").setUrlParams(PaymentsQuery).addSuccess(PaymentsPage)
      .annotateContext(describe("Payment history, newest first, cursor-paginated (stable while payments arrive). Default range: the last 30 days."))
  )
  .add(
    HttpApiEndpoint.get("alerts", "/alerts").setUrlParams(AlertsQuery).addSuccess(AlertsPage)
      .annotateContext(describe("Blocked requests and solvency alerts, newest first, cursor-paginated. Default range: the last 30 days."))
  )
  .add(
    HttpApiEndpoint.get("rejections", "/rejections").setUrlParams(RejectionsQuery).addSuccess(RejectionsPage)
      .annotateContext(describe("Events your gateways sent that the receiver refused (dead letters): when, which gateway, the event's type, id and source, the reason and the offending field. Newest first, cursor-paginated. Default range: the last 30 days."))
  )
  .addError(NotFound)
  .addError(Conflict)
  .addError(HttpApiError.HttpApiDecodeError)
  .addError(Unavailable)
  .middleware(VendorAuthentication)
  .prefix("/v1/vendor")
  .annotate(OpenApi.Title, "Vendor console")
  .annotate(OpenApi.Description, "For `vendor` tokens: only the caller's gateways (gateways.vendor_id = the token's vendor_id).") {}

export class AgentConsoleApi extends HttpApiGroup.make("consoleAgent")
  .add(
    HttpApiEndpoint.get("activity", "/activity").setUrlParams(ActivityQuery).addSuccess(ActivityPage)
      .annotateContext(describe("The caller's payments, intents, blocked requests and solvency alerts, newest first, cursor-paginated. Default range: the last 30 days."))
  )
  .add(
    HttpApiEndpoint.get("spending", "/spending").setUrlParams(SpendingQuery).addSuccess(AgentSpending)
      .annotateContext(describe("What the caller spent, per vendor, gateway or endpoint and asset. Default range: the last 30 days."))
  )
  .addError(HttpApiError.HttpApiDecodeError)
  .addError(Unavailable)
  .middleware(AgentAuthentication)
  .prefix("/v1/agent")
  .annotate(OpenApi.Title, "Agent console")
  .annotate(OpenApi.Description, "For `agent` tokens: only the caller's own records.") {}

export class AdminConsoleApi extends HttpApiGroup.make("consoleAdmin")
  .add(
    HttpApiEndpoint.get("gateways", "/gateways").setUrlParams(GatewaysQuery).addSuccess(GatewaysPage)
      .annotateContext(describe("Every gateway's health: last seen, telemetry lag, recent request and error rates, version, configuration, status."))
  )
  .addError(HttpApiError.HttpApiDecodeError)
  .addError(Unavailable)
  .middleware(AdminAuthentication)
  .prefix("/v1/admin")
  .annotate(OpenApi.Title, "Admin console")
  .annotate(OpenApi.Description, "For `admin` tokens.") {}
