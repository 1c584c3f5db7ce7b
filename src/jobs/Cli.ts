/**
 * `npm run cli -- jobs run <rollup|partitions|retention|archive> [--dry-run]`: run one scheduled
 * job once, now, for operators (the command line is parsed by `src/admin/CliCommand.ts`). Same
 * lock as the scheduler: it reports `skipped` while a worker is running that job.
 */
import { Console, Effect } from "effect"
import { CliError } from "../admin/CliError.js"
import { runJobOnce } from "./Jobs.js"
import type { JobName } from "./JobsConfig.js"

export const runJobsCli = (input: { readonly job: JobName; readonly dryRun: boolean }) =>
  Effect.gen(function*() {
    const report = yield* runJobOnce(input.job, { dryRun: input.dryRun })
    yield* Console.log(report.summary)
    if (report.status === "failed") return yield* Effect.fail(new CliError({ message: `${input.job} failed`, hint: "see the log above" }))
  })
