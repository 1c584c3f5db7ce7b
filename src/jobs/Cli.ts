/**
 * `npm run cli -- jobs run <rollup|partitions|retention|archive> [--dry-run]`: run one scheduled
 * job once, now, for operators. Same lock as the scheduler: it reports `skipped` while a worker
 * is running that job.
 */
import { Console, Effect } from "effect"
import { CliError } from "../admin/CliError.js"
import { runJobOnce } from "./Jobs.js"
import { isJobName, JobNames } from "./JobsConfig.js"

export const JOBS_USAGE = `usage: npm run cli -- jobs run <${JobNames.join("|")}> [--dry-run]
  run a scheduled job once, now (--dry-run: say what it would do, change nothing)`

export const runJobsCli = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const [verb, job, ...rest] = args
    const unknown = rest.filter((arg) => arg !== "--dry-run")
    if (verb !== "run") return yield* Effect.fail(new CliError({ message: `unknown command "jobs ${verb ?? ""}"`.trim(), hint: JOBS_USAGE }))
    if (job === undefined || !isJobName(job)) {
      return yield* Effect.fail(new CliError({ message: `expected a job name, one of ${JobNames.join(", ")}`, hint: JOBS_USAGE }))
    }
    if (unknown.length > 0) return yield* Effect.fail(new CliError({ message: `unexpected argument ${JSON.stringify(unknown[0])}`, hint: JOBS_USAGE }))
    const report = yield* runJobOnce(job, { dryRun: rest.includes("--dry-run") })
    yield* Console.log(report.summary)
    if (report.status === "failed") return yield* Effect.fail(new CliError({ message: `${job} failed`, hint: "see the log above" }))
  })
