// `npm run soak`: 100,000 connections (by default) through fd endpoints, per
// soak, on the build in build/current.json; open fds, RSS, pipes and live
// connections sampled every K cycles. Writes reports/soak.json, soak.md and
// soak.svg, and fails when something did not stay flat (soak/cycles.ts says
// how each is judged). `npm test` runs 2,000 cycles (tests/soak.test.ts).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SOAKS, type SoakName, type SoakResult } from '../soak/plan.ts';
import { renderChart, renderMarkdown, summaryLine, type SoakReport } from '../soak/report.ts';
import { paths } from './lib/config.ts';
import { relative } from './lib/proc.ts';
import { readPatchedRelease } from './lib/state.ts';
import { elapsed, fail, main, say } from './lib/ui.ts';

const NAMES = Object.keys(SOAKS) as SoakName[];
const SAMPLES = 100;
const PROGRESS_LINES = 10;

const USAGE = `Usage: npm run soak -- [--cycles=N] [--every=K] [--only=${NAMES.join('|')}] [--out=<dir>]

  --cycles  cycles per soak (default 100000: about 2 minutes per soak on 2 cores)
  --every   sample every K cycles (default: cycles / ${SAMPLES})
  --only    one soak: ${NAMES.map((n) => `${n} (${SOAKS[n].split(' → ')[0]})`).join(', ')}
  --out     where the reports go (default reports/)`;

function positive(value: string | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) fail(`--${what}=${value} is not a positive whole number`, [USAGE]);
  return n;
}

main(async () => {
  const { values } = parseArgs({
    options: { cycles: { type: 'string' }, every: { type: 'string' }, only: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const cycles = positive(values.cycles, 100_000, 'cycles');
  const every = positive(values.every, Math.max(1, Math.floor(cycles / SAMPLES)), 'every');
  if (values.only !== undefined && !(NAMES as string[]).includes(values.only)) fail(`unknown soak "${values.only}"`, [`Use --only=${NAMES.join(' or --only=')}.`]);
  const selected = values.only ? [values.only as SoakName] : NAMES;
  const out = path.resolve(values.out ?? paths.reports);
  // npm test runs the bounded soak on sanitized builds too, with the runtime preloaded.
  const built = readPatchedRelease('npm run soak', 'npm run soak runs in node without its sanitizer runtime');
  // Only now: the harness addon cannot load a sanitized build without its runtime.
  const { runSoak } = await import('../soak/cycles.ts');

  const startedAt = new Date().toISOString();
  const soaks: SoakResult[] = [];
  for (const name of selected) {
    say.step(`Soak "${name}": ${cycles} cycles, sampled every ${every}`);
    say.info(SOAKS[name]);
    const progressEvery = Math.max(1, Math.round(cycles / every / PROGRESS_LINES));
    const result = runSoak(name, cycles, every, (s, r) => {
      if ((s.cycle / every) % progressEvery !== 0 && s.cycle !== cycles && r.problems.length === 0) return;
      say.info(`cycle ${s.cycle}: ${s.fds} fds (baseline ${r.baselineFds}), RSS ${(s.rssKiB / 1024).toFixed(1)} MiB, ${s.pipes ?? 'uncounted'} pipes, ${s.live} live  [${elapsed()}]`);
    });
    soaks.push(result);
    say.info(summaryLine(result));
  }

  say.step('Reports');
  const report: SoakReport = { kind: 'zmq-fd-soak', startedAt, build: { base: built.base, variant: built.variant, upstream: built.upstream, patches: built.patches.length }, soaks };
  fs.mkdirSync(out, { recursive: true });
  const files = { json: path.join(out, 'soak.json'), md: path.join(out, 'soak.md'), svg: path.join(out, 'soak.svg') };
  fs.writeFileSync(files.json, `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(files.md, renderMarkdown(report));
  fs.writeFileSync(files.svg, await renderChart(report));
  say.info(`${relative(files.json)}, ${relative(files.md)}, ${relative(files.svg)}`);
  for (const r of soaks) say.info(summaryLine(r));
  const failed = soaks.filter((r) => r.problems.length > 0);
  if (failed.length > 0) fail(`${failed.map((r) => r.name).join(', ')}: did not stay flat`, [`See ${relative(files.md)}; the first problem of each soak is above.`]);
});
