// `npm run suite`: libzmq's own tests with their bind/connect helpers switched
// to fd endpoints (suite/), for each scheme, on one base. Builds into
// build/<base>-suite-release/; build/current.json is not touched.
import { parseArgs } from 'node:util';
import { BASE_NAMES, selectBase } from './lib/config.ts';
import { relative } from './lib/proc.ts';
import { SCHEMES, countOutcomes, countsText, prepareSuite, runScheme, writeMarkdown, type Scheme, type SchemeRun } from './lib/suite.ts';
import { fail, main, say } from './lib/ui.ts';

const USAGE = `Usage: npm run suite -- [--base=auto|${BASE_NAMES.join('|')}] [--scheme=${SCHEMES.join('|')}]… [--test=<name>]…

  --base    base to build (env ZMQ_FD_BASE; as for npm run setup)
  --scheme  run with ZMQ_FD_TESTUTIL=<scheme> (default: all three)
  --test    run only this libzmq test (default: all, less suite/not-applicable.json)

Reports: reports/suite/<base>.md, <base>-<scheme>.xml (JUnit), .switches.tsv, .ctest.log`;

main(async () => {
  const { values } = parseArgs({
    options: {
      base: { type: 'string' },
      scheme: { type: 'string', multiple: true },
      test: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const schemes = (values.scheme ?? [...SCHEMES]).map((s) =>
    (SCHEMES as readonly string[]).includes(s) ? (s as Scheme) : fail(`unknown scheme "${s}"`, [`Use --scheme=${SCHEMES.join(', --scheme=')}.`]),
  );
  const only = values.test;
  const { base, bp } = await prepareSuite(selectBase(values.base), only ?? []);
  const runs: SchemeRun[] = [];
  for (const scheme of schemes) {
    say.step(`ctest with ZMQ_FD_TESTUTIL=${scheme} (${base})`);
    const run = await runScheme(base, bp, scheme, only);
    if (run.problem) fail(run.problem);
    say.info(countsText(countOutcomes(run)));
    runs.push(run);
  }
  const md = writeMarkdown(base, runs);
  say.step('Done');
  for (const run of runs) say.info(`${run.scheme}: ${countsText(countOutcomes(run))}`);
  say.info(`table: ${relative(md)}`);
  const failed = runs.reduce((n, r) => n + countOutcomes(r).failed, 0);
  if (failed > 0) process.exitCode = 1;
});
