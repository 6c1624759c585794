// The benchmark's smoke run (`npm run bench -- --smoke`): every variant once
// with tiny counts, into reports/bench-smoke/. It checks that the benchmark
// runs to the end and writes its reports, never how fast anything was.
import test from 'ava';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { SCALES, SETUPS, SIZES, SMOKE, STREAMS } from '../bench/plan.ts';
import type { BenchReport } from '../bench/results.ts';
import { ratio, summarise } from '../bench/stats.ts';
import { TARGETS } from '../bench/targets.ts';
import { ROOT, paths } from '../scripts/lib/config.ts';

const OUT = path.join(paths.reports, 'bench-smoke');
const file = (name: string): string => path.join(OUT, name);

let run: { ok: true } | { ok: false; output: string } = { ok: false, output: 'not run' };

test.before(async () => {
  fs.rmSync(OUT, { recursive: true, force: true });
  try {
    await promisify(execFile)(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/bench.ts', '--smoke', `--out=${OUT}`], {
      cwd: ROOT,
      timeout: 5 * SMOKE.timeoutMs,
      maxBuffer: 16 * 2 ** 20,
    });
    run = { ok: true };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    run = { ok: false, output: `${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
});

test.serial('npm run bench -- --smoke runs to the end', (t) => {
  t.true(run.ok, run.ok ? '' : run.output);
});

test.serial('bench.json has every variant, size and target', (t) => {
  t.true(fs.existsSync(file('bench.json')), 'no bench.json');
  const report = JSON.parse(fs.readFileSync(file('bench.json'), 'utf8')) as BenchReport;
  t.is(report.kind, 'zmq-fd-bench');
  t.is(report.plan.name, 'smoke');
  const has = (cells: readonly { variant: string; size?: number; peers?: number }[], variant: string, key: Partial<{ size: number; peers: number }>): boolean =>
    cells.some((c) => c.variant === variant && (key.size === undefined || c.size === key.size) && (key.peers === undefined || c.peers === key.peers));
  for (const size of SIZES) {
    for (const s of STREAMS) {
      t.true(has(report.throughput, s.id, { size }), `throughput ${s.id} ${size}`);
      if (s.kind === 'zmq') t.true(has(report.latency, s.id, { size }), `latency ${s.id} ${size}`);
    }
  }
  for (const s of SETUPS) t.true(has(report.setup, s.id, {}), `setup ${s.id}`);
  for (const peers of SMOKE.scale.peers) for (const s of SCALES) t.true(has(report.scale, s.id, { peers }), `scale ${s.id} ${peers}`);
  t.deepEqual(
    report.targets.map((x) => x.comparison),
    TARGETS.map((x) => x.comparison),
  );
});

test.serial('bench.md and the chart are written', (t) => {
  t.regex(fs.readFileSync(file('bench.md'), 'utf8'), /^## Targets$/m);
  t.regex(fs.readFileSync(file('bench-throughput.svg'), 'utf8'), /^<svg[^>]*>/);
});

// The confidence interval decides whether a few percent is a finding or
// noise, so its arithmetic is checked on runs whose answer is known.
test('the ratio interval: exact when every round agrees, wide when they do not', (t) => {
  const twice = ratio(summarise([2, 4, 6, 8, 10]), summarise([1, 2, 3, 4, 5]));
  t.is(twice.value, 2);
  t.deepEqual(twice.ci95, [2, 2]);
  const noisy = ratio(summarise([0.8, 1.2, 0.9, 1.1, 1.0, 0.7, 1.3]), summarise([1, 1, 1, 1, 1, 1, 1]));
  t.true(noisy.ci95[0] < 1 && noisy.ci95[1] > 1, `${noisy.ci95}`);
  t.true(noisy.ci95[0] <= noisy.value && noisy.value <= noisy.ci95[1]);
});
