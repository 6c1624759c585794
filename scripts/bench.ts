// `npm run bench`: fd:// against ipc://, tcp:// and the raw socket limit, on
// the build in build/current.json. Writes reports/bench.json, bench.md and
// bench-throughput.svg; `--publish` also puts the chart in docs/bench/ and
// the summary in the README. `--smoke` (what `npm test` runs) does every
// variant once with tiny counts: it proves the benchmark works, nothing more.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine, sampleLoad } from '../bench/machine.ts';
import { FULL, SMOKE } from '../bench/plan.ts';
import { preparePrograms } from '../bench/programs.ts';
import { ProcessFailure } from '../bench/processes.ts';
import { renderChart, renderConsole, renderMarkdown, renderReadmeSection } from '../bench/render.ts';
import { buildReport, type BenchReport } from '../bench/results.ts';
import { cellCount, runAll, type Runs } from '../bench/run.ts';
import { evaluateTargets } from '../bench/targets.ts';
import { ensurePackages } from './lib/apt.ts';
import { ROOT, paths } from './lib/config.ts';
import { relative } from './lib/proc.ts';
import { readPatchedRelease } from './lib/state.ts';
import { elapsed, fail, main, say } from './lib/ui.ts';

const USAGE = `Usage: npm run bench -- [--smoke] [--out=<dir>] [--publish]

  --smoke    every variant once with tiny counts (seconds; what npm test runs)
  --out      where the reports go (default reports/)
  --publish  also copy the chart to docs/bench/ and the summary into README.md`;

const README = path.join(ROOT, 'README.md');
const PUBLISHED_CHART = path.join(ROOT, 'docs', 'bench', 'throughput.svg');
const BEGIN = '<!-- bench:begin: written by `npm run bench -- --publish` -->';
const END = '<!-- bench:end -->';

function publish(report: BenchReport, svg: string): void {
  fs.mkdirSync(path.dirname(PUBLISHED_CHART), { recursive: true });
  fs.writeFileSync(PUBLISHED_CHART, svg);
  const readme = fs.readFileSync(README, 'utf8');
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin < 0 || end < begin) fail(`README.md has no "${BEGIN}" … "${END}" block to write the results into`, ['Put the two markers in its Performance section.']);
  const section = renderReadmeSection(report, relative(PUBLISHED_CHART));
  fs.writeFileSync(README, `${readme.slice(0, begin + BEGIN.length)}\n${section}\n${readme.slice(end)}`);
  say.info(`published: ${relative(PUBLISHED_CHART)} and README.md's Performance section`);
}

main(async () => {
  const { values } = parseArgs({
    options: { smoke: { type: 'boolean' }, out: { type: 'string' }, publish: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const plan = values.smoke ? SMOKE : FULL;
  if (values.publish && plan === SMOKE) fail('--publish with --smoke would put meaningless numbers in the README', ['Publish a full run: npm run bench -- --publish']);
  const out = path.resolve(values.out ?? paths.reports);
  const built = readPatchedRelease('npm run bench', 'a sanitized libzmq measures the sanitizer');

  say.step('Prerequisites');
  // bench/c/ is compiled here, by the system C compiler.
  await ensurePackages(['gcc', 'libc6-dev']);
  const programs = await preparePrograms(built);
  say.info(`libzmq ${built.upstream} with ${built.patches.length} patches, from ${relative(built.prefix)}`);

  const startedAt = new Date().toISOString();
  const started = Date.now();
  // What else runs matters to the numbers; a smoke run spends no time finding out.
  const before = await sampleLoad(plan === SMOKE ? 0 : 1000);
  say.info(`load average ${before.average.map((x) => x.toFixed(2)).join(' ')}${before.busy.length ? `; busy: ${before.busy.map((b) => `${b.command.slice(0, 40)} ${b.percent}%`).join(', ')}` : ''}`);
  const scratch = fs.mkdtempSync('/tmp/zmq-fd-bench-');
  const env = { programs, plan, scratch };
  say.info(`${plan.name} run: ${cellCount(env)} runs`);
  let runs: Runs;
  try {
    runs = await runAll(env);
  } catch (error) {
    if (error instanceof ProcessFailure) {
      fail('a benchmark process failed', ['Its output is above. Check that `npm test -- --only=smoke` passes on this build.'], error.message);
    }
    throw error;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const after = await sampleLoad(plan === SMOKE ? 0 : 1000);

  say.step('Reports');
  const measured = buildReport(runs, {
    plan,
    startedAt,
    seconds: Math.round((Date.now() - started) / 1000),
    machine: describeMachine(),
    load: { before, after },
    build: { base: built.base, variant: built.variant, upstream: built.upstream, patches: built.patches.length, library: built.library },
  });
  const report: BenchReport = { ...measured, targets: evaluateTargets(measured) };
  const svg = await renderChart(report);
  fs.mkdirSync(out, { recursive: true });
  const files = { json: path.join(out, 'bench.json'), md: path.join(out, 'bench.md'), svg: path.join(out, 'bench-throughput.svg') };
  fs.writeFileSync(files.json, `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(files.md, renderMarkdown(report));
  fs.writeFileSync(files.svg, svg);
  say.info(`${relative(files.json)}, ${relative(files.md)}, ${relative(files.svg)}`);
  if (values.publish) publish(report, svg);

  say.step(`Targets${plan === SMOKE ? ' (smoke run: not meaningful)' : ''}`);
  for (const line of renderConsole(report)) say.info(line);
  say.info(`done in ${elapsed(started)}`);
});
