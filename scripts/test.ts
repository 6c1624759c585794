// `npm test`: libzmq's own ctest suite, the ava smoke tests and the conformance
// matrix, against the build recorded in build/current.json. JUnit XML for each
// goes to reports/, the matrix also to reports/matrix.md; the last line of
// output is "N passed, N failed" over all suites.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { JOBS, ctestCommand } from './lib/build.ts';
import { BASES, ROOT, VARIANTS, paths } from './lib/config.ts';
import { localBin, probe, relative } from './lib/proc.ts';
import { MATRIX_MARKDOWN, MATRIX_RECORD, countMatrix, countsLine, readMatrix, renderConsole, renderMarkdown } from './lib/matrix-report.ts';
import { readCurrent, type BuildRecord } from './lib/state.ts';
import { fail, main, say, tail } from './lib/ui.ts';

interface SuiteResult {
  passed: number;
  failed: number;
  skipped: number;
  report: string;
  /** Why the counts alone do not tell the whole story (crash, missing report…). */
  problem?: string;
  /** Lines printed after all suites ran, before the totals (the matrix table). */
  details?: string[];
}

const report = (name: string): string => path.join(paths.reports, name);

/** Counts from the first <testsuite …> element of a JUnit file. */
function junitCounts(file: string): { tests: number; failures: number; errors: number; skipped: number } | undefined {
  if (!fs.existsSync(file)) return undefined;
  const tag = /<testsuite\b[^>]*>/.exec(fs.readFileSync(file, 'utf8'))?.[0] ?? '';
  const attr = (name: string): number => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(tag)?.[1] ?? 0);
  return { tests: attr('tests'), failures: attr('failures'), errors: attr('errors'), skipped: attr('skipped') + attr('disabled') };
}

async function ctest(built: BuildRecord): Promise<SuiteResult> {
  const junit = report('ctest.xml');
  // The log is appended to; each run describes only itself.
  for (const file of [junit, report('ctest.log')]) fs.rmSync(file, { force: true });
  say.step(`libzmq's own tests: ctest -j${JOBS} in ${relative(built.cmakeBuildDir)}`);
  const excluded = Object.entries(BASES[built.base].ctestExclude ?? {});
  for (const [name, why] of excluded) say.info(`not run on ${built.base} (counted as skipped): ${name}: ${why}`);
  // Per-test time limits are libzmq's own (tests/CMakeLists.txt), not ours.
  const out = await probe(ctestCommand(built.base, '--output-junit', junit), {
    cwd: built.cmakeBuildDir,
    log: report('ctest.log'),
    onLine: (line) => line,
  });
  const counts = junitCounts(junit);
  if (!counts) return { passed: 0, failed: 1, skipped: 0, report: junit, problem: `ctest wrote no ${relative(junit)} (exit code ${out.exitCode})` };
  const failed = counts.failures + counts.errors;
  const result = { passed: counts.tests - failed - counts.skipped, failed, skipped: counts.skipped + excluded.length, report: junit };
  if (!out.ok && failed === 0) return { ...result, failed: 1, problem: `ctest failed (exit code ${out.exitCode}) without a failing test in its report` };
  return result;
}

/** TAP summary comment, e.g. "# pass 7". */
const tapCount = (tap: string, name: string): number | undefined => {
  const m = new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap);
  return m ? Number(m[1]) : undefined;
};

/**
 * Runs one ava test file: TAP to reports/<name>.tap, JUnit (one testcase per
 * test) to reports/<name>.xml. `echo`: print every TAP line, or only failures
 * and the summary (for hundreds of tests).
 */
async function avaFile(built: BuildRecord, name: string, file: string, echo: 'all' | 'failures'): Promise<SuiteResult> {
  const junit = report(`${name}.xml`);
  fs.rmSync(junit, { force: true });
  const preload = VARIANTS[built.variant].preload;
  if (preload) {
    return { passed: 0, failed: 1, skipped: 0, report: junit, problem: `the ${built.variant} build needs ${preload} LD_PRELOADed into node, which is not automated yet; run \`npm test -- --only=ctest\`` };
  }
  const run = await probe([localBin('ava'), '--tap', file], {
    cwd: ROOT,
    onLine: (line) => (echo === 'all' || /^(not ok |# (tests|pass|fail|skip|todo) )/.test(line) ? line : undefined),
  });
  fs.writeFileSync(report(`${name}.tap`), run.stdout);
  // tap-junit exits 1 when a test failed; the XML is still written, and that is what matters here.
  const convert = await probe([localBin('tap-junit'), '--output', paths.reports, '--name', `${name}.xml`, '--classname', name], {
    cwd: ROOT,
    input: run.stdout,
  });
  const pass = tapCount(run.stdout, 'pass');
  const failCount = tapCount(run.stdout, 'fail');
  const skipped = (tapCount(run.stdout, 'skip') ?? 0) + (tapCount(run.stdout, 'todo') ?? 0);
  if (pass === undefined || failCount === undefined) {
    // ava stopped before its summary (a crash, a file that failed to load…).
    const passed = (run.stdout.match(/^ok /gm) ?? []).length;
    const failed = (run.stdout.match(/^not ok /gm) ?? []).length;
    const problem = `ava ended without a TAP summary (exit code ${run.exitCode}); see reports/${name}.tap\n${tail(run.stderr)}`;
    return { passed, failed: failed + 1, skipped, report: junit, problem };
  }
  const result: SuiteResult = { passed: pass, failed: failCount, skipped, report: junit };
  if (!fs.existsSync(junit)) return { ...result, failed: failCount + 1, problem: `tap-junit wrote no ${relative(junit)}: ${convert.stderr.trim()}` };
  if (!run.ok && failCount === 0) return { ...result, failed: 1, problem: `ava failed (exit code ${run.exitCode}) although no test failed` };
  return result;
}

async function smoke(built: BuildRecord): Promise<SuiteResult> {
  say.step('Smoke tests: ava');
  return avaFile(built, 'smoke', 'tests/smoke.test.ts', 'all');
}

/** The conformance matrix; its rendering goes to reports/matrix.md and is printed before the totals. */
async function matrix(built: BuildRecord): Promise<SuiteResult> {
  say.step('Conformance matrix: ava');
  fs.rmSync(MATRIX_RECORD, { force: true });
  const result = await avaFile(built, 'matrix', 'tests/matrix.test.ts', 'failures');
  const recorded = readMatrix();
  if (!recorded) return { ...result, failed: result.failed + 1, problem: `the matrix recorded nothing in ${relative(MATRIX_RECORD)}; see reports/matrix.tap` };
  fs.writeFileSync(MATRIX_MARKDOWN, renderMarkdown(recorded));
  const counts = countMatrix(recorded);
  return {
    ...result,
    details: ['', `Conformance matrix (${relative(MATRIX_MARKDOWN)}): ${countsLine(counts)}`, '', ...renderConsole(recorded)],
    ...(counts.notRun > 0 ? { problem: `${counts.notRun} matrix cells did not run: the test process ended early; see reports/matrix.tap` } : {}),
  };
}

const SUITES = { ctest, smoke, matrix } as const;
type SuiteName = keyof typeof SUITES;
const SUITE_NAMES = Object.keys(SUITES) as SuiteName[];

main(async () => {
  const { values } = parseArgs({ options: { only: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(`Usage: npm test [-- --only=${SUITE_NAMES.join('|')}]\n\nRuns all suites by default; JUnit XML and logs go to reports/.`);
    return;
  }
  const only = values.only;
  if (only !== undefined && !(SUITE_NAMES as string[]).includes(only)) {
    fail(`unknown suite "${only}"`, [`Use --only=${SUITE_NAMES.join(' or --only=')}, or no --only for all.`]);
  }
  const selected = only ? [only as SuiteName] : SUITE_NAMES;
  const built = readCurrent();
  fs.mkdirSync(paths.reports, { recursive: true });
  say.info(`testing libzmq ${built.upstream} (${built.base}-${built.variant}, ${built.patches.length} patches) from ${relative(built.prefix)}`);
  if (built.patches.length === 0) {
    say.info('no patches applied: the fd:// smoke tests are not declared; the conformance matrix is, and its cells will fail');
  }

  const results: [SuiteName, SuiteResult][] = [];
  for (const name of selected) results.push([name, await SUITES[name](built)]);

  for (const [, r] of results) for (const line of r.details ?? []) console.log(line);
  console.log('');
  for (const [name, r] of results) {
    console.log(`${name}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped (${relative(r.report)})`);
    if (r.problem) console.log(`${name}: ${r.problem}`);
  }
  const passed = results.reduce((n, [, r]) => n + r.passed, 0);
  const failed = results.reduce((n, [, r]) => n + r.failed, 0);
  if (failed > 0) process.exitCode = 1;
  console.log(`${passed} passed, ${failed} failed`);
});
