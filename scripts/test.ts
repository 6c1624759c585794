// `npm test`: libzmq's own ctest suite, the ava smoke tests, the conformance
// matrix and the benchmark's smoke run, against the build recorded in
// build/current.json. JUnit XML for each goes to reports/, the matrix also to
// reports/matrix.md; the last line of output is "N passed, N failed" over all
// suites.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ProcessOutput } from 'zx';
import { JOBS, ctestCommand, ctestExclusions, touchedTestsFilter } from './lib/build.ts';
import { BASES, ROOT, TOUCHED_TESTS, VARIANTS, paths, type BuildPaths } from './lib/config.ts';
import { replayCorpus } from './lib/fuzz.ts';
import { NO_FD_TRANSPORT, prepareLibrary, selectLibrary } from './lib/library.ts';
import { localBin, probe, relative, run } from './lib/proc.ts';
import { collectReports, sanitizedRun, type SanitizedRun } from './lib/sanitizers.ts';
import { MATRIX_MARKDOWN, MATRIX_RECORD, countMatrix, countsLine, readMatrix, renderConsole, renderMarkdown } from './lib/matrix-report.ts';
import { readCurrent, type BuildRecord } from './lib/state.ts';
import { CI_SAMPLE, SCHEMES, SUITE_REPORTS, countOutcomes, prepareSuite, runScheme, writeMarkdown } from './lib/suite.ts';
import { Fatal, fail, main, say, tail } from './lib/ui.ts';

interface SuiteResult {
  passed: number;
  failed: number;
  skipped: number;
  report: string;
  /** Why the counts alone do not tell the whole story (crash, missing report…). */
  problem?: string;
  /** Lines printed after all suites ran, before the totals (the matrix table). */
  details?: string[];
  /**
   * Each failed test: its name, then the start of what it said. Printed again
   * just above the totals, since a CI log is often cut to its last lines.
   */
  failures?: string[];
}

/** Which of libzmq's tests ctest runs: all, or those the series touches (config.ts, TOUCHED_TESTS). */
type CtestSet = 'all' | 'touched';

/** What the command line asks of the suites. */
interface Options {
  ctest?: CtestSet;
}

/**
 * Adds the sanitizer's reports to a suite's result. A report makes its
 * process exit non-zero, so ctest or ava has counted a failure already
 * (a test, or a test file that exited badly); the reports say why, and a
 * suite with reports never passes, whoever's process they were in.
 */
function withReports(result: SuiteResult, run: SanitizedRun | undefined): SuiteResult {
  if (!run) return result;
  const { reports, notes } = collectReports(run);
  for (const note of notes) say.info(`${run.sanitizer}, not a report: ${note}`);
  if (reports.length === 0) return result;
  const listed = reports.map((r) => `  ${r.summary} (${r.file})`).join('\n');
  const problem = `${reports.length} ${run.sanitizer} report(s) in ${relative(run.logDir)}/:\n${listed}`;
  const failed = Math.max(result.failed, 1);
  return { ...result, failed, problem: result.problem ? `${result.problem}\n${problem}` : problem };
}

const report = (name: string): string => path.join(paths.reports, name);

/** The names of the failed <testcase> elements of a JUnit file. */
function junitFailures(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  const cases = fs.readFileSync(file, 'utf8').split(/(?=<testcase\b)/).slice(1);
  return cases.filter((c) => /<(failure|error)\b/.test(c.split('</testcase>')[0] ?? '')).map((c) => /\bname="([^"]*)"/.exec(c)?.[1] ?? '(unnamed)');
}

/** Each `not ok` line of a TAP stream with the first lines of its YAML diagnostics. */
function tapFailures(tap: string, lines = 12): string[] {
  const all = tap.split('\n');
  const found: string[] = [];
  all.forEach((line, i) => {
    if (!line.startsWith('not ok ')) return;
    const yaml: string[] = [];
    for (let j = i + 1; j < all.length && /^\s/.test(all[j] ?? '') && yaml.length < lines; j++) yaml.push(all[j] ?? '');
    found.push([line, ...yaml].join('\n'));
  });
  return found;
}

/** Counts from the first <testsuite …> element of a JUnit file. */
function junitCounts(file: string): { tests: number; failures: number; errors: number; skipped: number } | undefined {
  if (!fs.existsSync(file)) return undefined;
  const tag = /<testsuite\b[^>]*>/.exec(fs.readFileSync(file, 'utf8'))?.[0] ?? '';
  const attr = (name: string): number => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(tag)?.[1] ?? 0);
  return { tests: attr('tests'), failures: attr('failures'), errors: attr('errors'), skipped: attr('skipped') + attr('disabled') };
}

/**
 * ctest in the build's CMake tree, with `args` and a JUnit report written
 * afresh; its counts are undefined when ctest wrote none. `wrap` and `env`
 * are a sanitized run's; `echo` prints ctest's lines as progress.
 */
async function runCtest(
  built: BuildRecord,
  args: readonly string[],
  junit: string,
  run: { log: string; env?: NodeJS.ProcessEnv; wrap?: readonly string[]; echo?: boolean },
): Promise<{ out: ProcessOutput; counts: ReturnType<typeof junitCounts> }> {
  fs.rmSync(junit, { force: true });
  const out = await probe([...(run.wrap ?? []), ...ctestCommand(built.base, built.variant, ...args, '--output-junit', junit)], {
    cwd: built.cmakeBuildDir,
    env: run.env,
    log: run.log,
    ...(run.echo ? { onLine: (line: string) => line } : {}),
  });
  return { out, counts: junitCounts(junit) };
}

async function ctest(built: BuildRecord, options: Options): Promise<SuiteResult> {
  const junit = report('ctest.xml');
  // The log is appended to (a rerun too); each npm test describes only itself.
  fs.rmSync(report('ctest.log'), { force: true });
  // TSan slows libzmq's tests several times over; the fd-related ones are where our races would be.
  const set = options.ctest ?? (VARIANTS[built.variant].sanitizer === 'tsan' ? 'touched' : 'all');
  say.step(`libzmq's own tests${set === 'touched' ? ' that the series touches' : ''}: ctest -j${JOBS} in ${relative(built.cmakeBuildDir)}`);
  // An exclusion counts as a skipped test only where the test would have run.
  const excluded = ctestExclusions(built.base, built.variant).filter(([name]) => set === 'all' || TOUCHED_TESTS.includes(name));
  for (const [name, why] of excluded) say.info(`not run on ${built.base}-${built.variant} (counted as skipped): ${name}: ${why}`);
  const sanitized = await sanitizedRun(built, 'ctest', false);
  // Per-test time limits are libzmq's own (tests/CMakeLists.txt), not ours.
  const { out, counts } = await runCtest(built, set === 'touched' ? touchedTestsFilter() : [], junit, { ...sanitized, log: report('ctest.log'), echo: true });
  if (!counts) return { passed: 0, failed: 1, skipped: 0, report: junit, problem: `ctest wrote no ${relative(junit)} (exit code ${out.exitCode})` };
  const failures = junitFailures(junit);
  const flaky = await rerunUpstreamFlakes(built, failures, sanitized);
  const failed = counts.failures + counts.errors - flaky.length;
  const result: SuiteResult = {
    passed: counts.tests - failed - counts.skipped,
    failed,
    skipped: counts.skipped + excluded.length,
    report: junit,
    failures: failures.filter((name) => !flaky.includes(name)),
    ...(flaky.length > 0 ? { problem: `flaky, not touched by the series: ${flaky.join(', ')} failed, then passed when run again alone (counted as passed; first run in ${relative(report('ctest.log'))})` } : {}),
  };
  if (!out.ok && counts.failures + counts.errors === 0) return withReports({ ...result, failed: 1, problem: `ctest failed (exit code ${out.exitCode}) without a failing test in its report` }, sanitized);
  return withReports(result, sanitized);
}

/** At most this many failed upstream tests are run again: more is a breakage, not a flake. */
const MAX_RERUN = 2;

/**
 * libzmq's own tests that the series does not touch are upstream's, races and
 * all (4.3.4's test_inproc_connect crashed once in 300 runs here). When one or
 * two of them fail, and no test the series touches did, each is run once
 * more, alone; those that pass then are returned, to be counted as passed and
 * named as flaky. A test the series touches or adds is never run again.
 */
async function rerunUpstreamFlakes(built: BuildRecord, failures: readonly string[], sanitized: SanitizedRun | undefined): Promise<string[]> {
  if (failures.length === 0 || failures.length > MAX_RERUN || failures.some((name) => TOUCHED_TESTS.includes(name))) return [];
  const junit = report('ctest-rerun.xml');
  say.info(`not touched by the series, failed: ${failures.join(', ')}; running ${failures.length === 1 ? 'it' : 'them'} once more, alone`);
  const { counts } = await runCtest(built, ['-j', '1', '-R', `^(${failures.join('|')})$`], junit, { ...sanitized, log: report('ctest.log'), echo: true });
  if (!counts || counts.tests !== failures.length) return [];
  const still = junitFailures(junit);
  return failures.filter((name) => !still.includes(name));
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
  const sanitized = await sanitizedRun(built, name, true);
  const result = await avaRun(name, file, echo, junit, sanitized);
  return withReports(result, sanitized);
}

async function avaRun(name: string, file: string, echo: 'all' | 'failures', junit: string, sanitized: Pick<SanitizedRun, 'wrap' | 'env'> | undefined): Promise<SuiteResult> {
  const run = await probe([...(sanitized?.wrap ?? []), localBin('ava'), '--tap', file], {
    cwd: ROOT,
    env: sanitized?.env,
    onLine: (line) => (echo === 'all' || /^(not ok |# (tests|pass|fail|skip|todo) )/.test(line) ? line : undefined),
  });
  fs.writeFileSync(report(`${name}.tap`), run.stdout);
  // tap-junit exits 1 when a test failed; the XML is still written, and that is what matters here.
  // Given no input at all (ava died before its first line), tap-junit waits for it forever.
  const convert =
    run.stdout === ''
      ? undefined
      : await probe([localBin('tap-junit'), '--output', paths.reports, '--name', `${name}.xml`, '--classname', name], {
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
    return { passed, failed: failed + 1, skipped, report: junit, problem, failures: tapFailures(run.stdout) };
  }
  const result: SuiteResult = { passed: pass, failed: failCount, skipped, report: junit, failures: tapFailures(run.stdout) };
  if (!fs.existsSync(junit)) return { ...result, failed: failCount + 1, problem: `tap-junit wrote no ${relative(junit)}: ${convert?.stderr.trim() ?? 'ava wrote no TAP'}` };
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
  const problems = [
    ...(built.external && !built.external.hasFd ? [`${NO_FD_TRANSPORT} (${built.library}, zmq_version ${built.zmqVersion}): its fd cells fail`] : []),
    ...(counts.notRun > 0 ? [`${counts.notRun} matrix cells did not run: the test process ended early; see reports/matrix.tap`] : []),
  ];
  return {
    ...result,
    details: ['', `Conformance matrix (${relative(MATRIX_MARKDOWN)}): ${countsLine(counts)}`, '', ...renderConsole(recorded)],
    ...(problems.length > 0 ? { problem: problems.join('\n') } : {}),
  };
}

/** A suite that is not run: one skipped test, never a pass, and the reason said. */
function skippedSuite(on: string, report: string, why: string): SuiteResult {
  say.info(`not run on ${on} (counted as skipped): ${why}`);
  return { passed: 0, failed: 0, skipped: 1, report, problem: `not run: ${why}` };
}

/** A suite that has nothing to add on a sanitized build. */
const skippedWhenSanitized = (built: BuildRecord, report: string, why: string): SuiteResult => skippedSuite(`the ${built.variant} build`, report, why);

/** `npm run bench -- --smoke`: that the benchmark runs and writes its reports (reports/bench-smoke/), not its numbers. */
async function bench(built: BuildRecord): Promise<SuiteResult> {
  say.step('Benchmark smoke run: ava');
  if (VARIANTS[built.variant].sanitizer) return skippedWhenSanitized(built, report('bench.xml'), 'npm run bench refuses a sanitized libzmq, it would measure the sanitizer');
  return avaFile(built, 'bench', 'tests/bench.test.ts', 'all');
}




/**
 * examples/ run by tests/examples.test.ts: RFC.md's use cases with Debian's
 * python3-zmq on both sides (the patched libzmq on one), systemd-socket-activate
 * and stunnel4. Those programs are not instrumented, and systemd-socket-activate
 * passes its service no LD_PRELOAD: a sanitized libzmq cannot load in them.
 */
async function examples(built: BuildRecord): Promise<SuiteResult> {
  say.step('Examples (examples/): ava');
  if (VARIANTS[built.variant].sanitizer) {
    return skippedWhenSanitized(built, report('examples.xml'), 'the examples run uninstrumented programs (python3, systemd-socket-activate, stunnel), which cannot load a sanitized libzmq');
  }
  return avaFile(built, 'examples', 'tests/examples.test.ts', 'all');
}

/**
 * libzmq's own tests over fd endpoints (`npm run suite`), bounded: the sample
 * of suite/ci-sample.json, each with every scheme, in build/<base>-suite-release/.
 * Each must pass and use the scheme: one that ran without an fd endpoint fails.
 */
async function suite(built: BuildRecord): Promise<SuiteResult> {
  const all = [...new Set(SCHEMES.flatMap((scheme) => CI_SAMPLE[scheme]))];
  say.step(`libzmq's tests over fd endpoints: ${all.length} of them, with ${SCHEMES.join(', ')} (npm run suite runs them all)`);
  if (VARIANTS[built.variant].sanitizer) return skippedWhenSanitized(built, SUITE_REPORTS, 'the suite runs its own release build (build/<base>-suite-release/), which the release pass tests');
  let bp: BuildPaths;
  try {
    ({ bp } = await prepareSuite(built.base, all));
  } catch (error) {
    // The other suites' results still count: report this one as failed.
    if (!(error instanceof Fatal)) throw error;
    return { passed: 0, failed: 1, skipped: 0, report: SUITE_REPORTS, problem: `${error.message}\n${error.details}\n${error.todo.join('\n')}` };
  }
  const runs = [];
  const result: SuiteResult = { passed: 0, failed: 0, skipped: 0, report: SUITE_REPORTS };
  const problems: string[] = [];
  for (const scheme of SCHEMES) {
    const run = await runScheme(built.base, bp, scheme, CI_SAMPLE[scheme]);
    runs.push(run);
    if (run.problem) problems.push(run.problem);
    const c = countOutcomes(run);
    say.info(`ZMQ_FD_TESTUTIL=${scheme}: ${c.passed} passed over ${scheme}, ${c.failed} failed, ${c.skipped} skipped, ${c['no-fd'] + c['not-applicable']} did not use ${scheme}`);
    result.passed += c.passed;
    result.failed += c.failed + c['no-fd'] + c['not-applicable'] + (run.problem ? 1 : 0);
    result.skipped += c.skipped;
    for (const [test, r] of run.tests) if (r.outcome === 'no-fd' || r.outcome === 'not-applicable') problems.push(`${test} did not use ${scheme} (${r.outcome}); remove it from suite/ci-sample.json`);
  }
  writeMarkdown(built.base, runs);
  return problems.length > 0 ? { ...result, problem: problems.join('\n') } : result;
}

/** fuzz/corpus/, each input replayed through its fuzzer built against this build (scripts/lib/fuzz.ts). */
async function fuzz(built: BuildRecord): Promise<SuiteResult> {
  say.step('Fuzz corpus replay: fuzz/corpus/ through the fuzzers, built with this build\'s compiler and libzmq');
  return replayCorpus(built);
}



/** A suite that is one ava file, tests/<name>.test.ts, every TAP line shown. */
const avaSuite =
  (name: string, title: string) =>
  (built: BuildRecord): Promise<SuiteResult> => {
    say.step(`${title}: ava`);
    return avaFile(built, name, `tests/${name}.test.ts`, 'all');
  };

/** The fault cases; README.md "Faults" lists them with their outcomes. */
const faults = avaSuite('faults', 'Faults');
/** tests/faults/slow-io-thread.c: what each epoll_wait of a libzmq I/O thread waits first. */
const SLOW_IO_MS = 20;

/**
 * The fault cases again, with libzmq's I/O threads slowed by an LD_PRELOAD
 * shim (tests/faults/slow-io-thread.c): the application's commands overtake
 * the I/O thread every time, where on a loaded machine they do once in a
 * while. A case that counts on a quick I/O thread fails here, not at random
 * in CI. The shim's log proves it slowed the I/O threads.
 */
async function slowio(built: BuildRecord): Promise<SuiteResult> {
  say.step(`Faults with libzmq's I/O threads slowed (each epoll_wait ${SLOW_IO_MS} ms late): ava`);
  const junit = report('slowio.xml');
  fs.rmSync(junit, { force: true });
  if (VARIANTS[built.variant].sanitizer) {
    return skippedWhenSanitized(built, junit, "the sanitizer's runtime must be the first preload and intercepts epoll_wait itself; the release pass runs these faults slowed");
  }
  const shim = path.join(built.buildDir, 'slow-io-thread.so');
  try {
    await run(['gcc', '-shared', '-fPIC', '-O2', '-Wall', '-Werror', '-o', shim, path.join(ROOT, 'tests', 'faults', 'slow-io-thread.c'), '-ldl'], {
      what: 'compile the slow I/O thread shim (tests/faults/slow-io-thread.c)',
      todo: ['Install gcc (`npm run setup` does, as root).'],
    });
  } catch (error) {
    // The other suites' results still count: report this one as failed.
    if (!(error instanceof Fatal)) throw error;
    return { passed: 0, failed: 1, skipped: 0, report: junit, problem: `${error.message}\n${error.details}` };
  }
  const log = report('slowio-delays.log');
  fs.rmSync(log, { force: true });
  const result = await avaRun('slowio', 'tests/faults.test.ts', 'all', junit, {
    wrap: ['env', `LD_PRELOAD=${shim}`],
    env: { ZMQ_FD_SLOW_IO_LOG: log, ZMQ_FD_SLOW_IO_MS: String(SLOW_IO_MS) },
  });
  const delayed = delayedCalls(log);
  say.info(`the shim delayed ${delayed} epoll_wait calls of libzmq's I/O threads (${relative(log)})`);
  const faults = delayed > 0 ? result : { ...result, failed: result.failed + 1, problem: `the shim delayed no epoll_wait call (${relative(log)}): the faults ran at normal speed` };
  return built.external ? faults : addResult(faults, await mockPubSubSlowed(built, shim));
}

const delayedCalls = (log: string): number =>
  fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').reduce((n, line) => n + Number(line.split(' ')[1] ?? 0), 0) : 0;

/** One more test's outcome in a suite's result. */
function addResult(result: SuiteResult, test: { name: string; problem?: string }): SuiteResult {
  if (test.problem === undefined) return { ...result, passed: result.passed + 1 };
  const problem = `${test.name}: ${test.problem}`;
  return { ...result, failed: result.failed + 1, problem: result.problem ? `${result.problem}\n${problem}` : problem, failures: [...(result.failures ?? []), problem] };
}

/**
 * libzmq's test_mock_pub_sub with each recv () of the I/O threads delayed
 * too: libzmq then reads the mock's READY long after the mock read libzmq's.
 * Before the series fixed that test, it hung here every time, where on a
 * loaded machine it did now and then.
 */
async function mockPubSubSlowed(built: BuildRecord, shim: string): Promise<{ name: string; problem?: string }> {
  const name = 'test_mock_pub_sub with the I/O threads\' recv () slowed too';
  const junit = report('slowio-ctest.xml');
  const log = report('slowio-recv-delays.log');
  for (const file of [log, report('slowio-ctest.log')]) fs.rmSync(file, { force: true });
  const { out, counts } = await runCtest(built, ['-R', '^test_mock_pub_sub$'], junit, {
    env: { LD_PRELOAD: shim, ZMQ_FD_SLOW_IO_RECV: '1', ZMQ_FD_SLOW_IO_LOG: log, ZMQ_FD_SLOW_IO_MS: String(SLOW_IO_MS) },
    log: report('slowio-ctest.log'),
  });
  const delayed = delayedCalls(log);
  say.info(`${name}: ${out.ok ? 'passed' : 'failed'}, ${delayed} calls delayed (${relative(report('slowio-ctest.log'))})`);
  if (!counts || counts.tests !== 1) return { name, problem: `ctest ran no such test (exit code ${out.exitCode})` };
  if (!out.ok || counts.failures + counts.errors > 0) return { name, problem: `failed or timed out; see ${relative(report('slowio-ctest.log'))}` };
  if (delayed === 0) return { name, problem: `the shim delayed no call (${relative(log)}): it ran at normal speed` };
  return { name };
}

/** `npm run soak`, bounded: 2,000 cycles per soak. */
const soak = avaSuite('soak', 'Soak, 2,000 cycles per soak');
/** IPC filters and ZAP over fd endpoints, with peers of another user (RFC.md 9.1). */
const security = avaSuite('security', 'Security tests');
/** `npm run deb`'s checks that need no build: the version order (dpkg --compare-versions), DEP-3 headers, the rules fix. */
const deb = avaSuite('deb', 'Debian packaging checks');
/**
 * `npm test -- --library` against Debian's stock libzmq5: the matrix fails,
 * saying why. It tests the stock library, never this build, so a sanitized
 * build's pass would only repeat the release pass's run.
 */
const libraryOnStock = avaSuite('library', '--library against the stock libzmq5');
async function library(built: BuildRecord): Promise<SuiteResult> {
  if (!VARIANTS[built.variant].sanitizer) return libraryOnStock(built);
  say.step('--library against the stock libzmq5: ava');
  return skippedWhenSanitized(built, report('library.xml'), 'it tests the stock libzmq5, not this build; the release pass runs it');
}

/** The record of `--library`'s build (scripts/lib/library.ts); its ava runs read it through ZMQ_FD_RECORD. */
async function underTest(given: string): Promise<BuildRecord> {
  let recorded: BuildRecord | undefined;
  try {
    recorded = readCurrent();
  } catch (error) {
    if (!(error instanceof Fatal)) throw error;
  }
  const { record, env } = await prepareLibrary(given, recorded);
  Object.assign(process.env, env);
  return record;
}

const SUITES = { ctest, smoke, matrix, bench, faults, slowio, soak, security, examples, suite, fuzz, deb, library } as const;
type SuiteName = keyof typeof SUITES;
const SUITE_NAMES = Object.keys(SUITES) as SuiteName[];

/** Suites that --library runs only on a library with the fd transport (the matrix runs anyway, and fails). */
const ONLY_WITH_FD: readonly SuiteName[] = ['faults', 'slowio', 'security', 'examples'];

/**
 * What `--library` runs: the smoke tests and the matrix, which need only the
 * harness, and the faults and security tests on a library with the transport. The others are skipped, with the reason said, never counted as passed.
 */
const NOT_ON_A_LIBRARY: Partial<Record<SuiteName, string>> = {
  ctest: "libzmq's own tests need the patched source tree and its CMake build, not a built library",
  suite: "libzmq's tests over fd endpoints are built from the patched source tree",
  fuzz: 'the fuzzers are built from the patched source tree',
  bench: "the benchmark runs libzmq's perf tools from the CMake build",
  soak: 'the soaks use the draft API (zmq_socket_monitor_versioned), which a distro build without drafts does not export',
  deb: 'checks the packaging scripts, not a library',
  library: 'runs --library itself, against the stock libzmq5',
};

main(async () => {
  const { values } = parseArgs({ options: { only: { type: 'string' }, ctest: { type: 'string' }, library: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(
      `Usage: npm test [-- --only=${SUITE_NAMES.join('|')}] [--ctest=all|touched] [--library=<path to libzmq.so.5>]\n\nRuns all suites by default; JUnit XML and logs go to reports/.\n` +
        `--library (or ZMQ_FD_LIBRARY) runs the smoke tests and the matrix (and, if it has the fd transport, faults and security) against that libzmq, with the addon rebuilt against it in build/library-<hash>/.\n` +
        `--ctest=touched runs only the libzmq tests the series touches (the default on a tsan build; all otherwise).\n` +
        'On a sanitized build (asan, ubsan, tsan) the sanitizer reports go to reports/sanitizers/<suite>/.',
    );
    return;
  }
  const ctestSet = values.ctest;
  if (ctestSet !== undefined && ctestSet !== 'all' && ctestSet !== 'touched') {
    fail(`unknown --ctest=${ctestSet}`, ['Use --ctest=all or --ctest=touched.']);
  }

  const only = values.only;
  if (only !== undefined && !(SUITE_NAMES as string[]).includes(only)) {
    fail(`unknown suite "${only}"`, [`Use --only=${SUITE_NAMES.join(' or --only=')}, or no --only for all.`]);
  }
  const selected = only ? [only as SuiteName] : SUITE_NAMES;
  const libraryGiven = selectLibrary(values.library);
  const built = libraryGiven === undefined ? readCurrent() : await underTest(libraryGiven);
  fs.mkdirSync(paths.reports, { recursive: true });
  const tested = built.external
    ? `library under test: ${built.library} (given as ${built.external.given}), zmq_version ${built.zmqVersion}, zmq_has("fd") ${built.external.hasFd}`
    : `testing libzmq ${built.upstream} (${built.base}-${built.variant}, ${built.patches.length} patches) from ${relative(built.prefix)}`;
  say.info(tested);
  if (built.external) {
    if (!built.external.hasFd) say.info(`${NO_FD_TRANSPORT}: the matrix will fail`);
  } else if (built.patches.length === 0) {
    say.info('no patches applied: the fd:// smoke tests are not declared; the conformance matrix is, and its cells will fail');
  }

  const results: [SuiteName, SuiteResult][] = [];
  for (const name of selected) {
    const withoutFd = built.external && !built.external.hasFd && ONLY_WITH_FD.includes(name) ? `${NO_FD_TRANSPORT}, and these tests exist only for it` : undefined;
    const notHere = built.external ? (NOT_ON_A_LIBRARY[name] ?? withoutFd) : undefined;
    results.push([name, notHere ? skippedSuite('--library', '-', notHere) : await SUITES[name](built, { ctest: ctestSet })]);
  }

  for (const [, r] of results) for (const line of r.details ?? []) console.log(line);
  console.log('');
  for (const [name, r] of results) {
    console.log(`${name}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped (${relative(r.report)})`);
    if (r.problem) console.log(`${name}: ${r.problem}`);
  }
  if (built.external) console.log(tested);
  const failures = results.flatMap(([name, r]) => (r.failures ?? []).map((f) => `${name}: ${f}`));
  const shown = 20;
  if (failures.length > 0) {
    const more = failures.length > shown ? [`… and ${failures.length - shown} more (reports/*.tap, reports/ctest.xml)`] : [];
    console.log(['', 'failed tests:', ...failures.slice(0, shown), ...more, ''].join('\n'));
  }
  const passed = results.reduce((n, [, r]) => n + r.passed, 0);
  const failed = results.reduce((n, [, r]) => n + r.failed, 0);
  if (failed > 0) process.exitCode = 1;
  console.log(`${passed} passed, ${failed} failed`);
});
