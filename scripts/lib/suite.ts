// libzmq's own tests over fd endpoints (suite/): a build of the series plus
// suite/testutil-fd.patch in build/<base>-suite-release/, and ctest runs with
// ZMQ_FD_TESTUTIL set to each scheme. The switch logs every bind and connect
// it turns into an fd endpoint, so a test counts as passed over a scheme only
// if it passed and used that scheme.
import fs from 'node:fs';
import path from 'node:path';
import { compileLibzmq, configureLibzmq, ctestExcluding } from './build.ts';
import { ROOT, buildPaths, paths, type BaseName, type BuildPaths } from './config.ts';
import { probe, relative } from './proc.ts';
import { acquire, baseLabel } from './source.ts';
import { prepareTree, seriesFiles } from './tree.ts';
import { say } from './ui.ts';

export const SUITE_PATCH = path.join(ROOT, 'suite', 'testutil-fd.patch');
export const NOT_APPLICABLE = path.join(ROOT, 'suite', 'not-applicable.json');
export const SUITE_REPORTS = path.join(paths.reports, 'suite');

export const SCHEMES = ['fd', 'tcp-fd', 'ipc-fd'] as const;

/** The tests `npm test` runs with each scheme (suite/ci-sample.json): quick ones whose binds and connects it switches. */
export const CI_SAMPLE = JSON.parse(fs.readFileSync(path.join(ROOT, 'suite', 'ci-sample.json'), 'utf8')) as Readonly<Record<Scheme, readonly string[]>>;
export type Scheme = (typeof SCHEMES)[number];

/** suite/not-applicable.json: test → why it cannot run over fd endpoints, and where. */
interface NotApplicable {
  readonly why: string;
  /** Schemes it cannot run with (default: all). */
  readonly schemes?: readonly Scheme[];
  /** Bases it cannot run on (default: all). */
  readonly bases?: readonly BaseName[];
}

export function notApplicable(base: BaseName, scheme: Scheme): Map<string, string> {
  const list = JSON.parse(fs.readFileSync(NOT_APPLICABLE, 'utf8')) as Record<string, NotApplicable>;
  const out = new Map<string, string>();
  for (const [test, entry] of Object.entries(list)) {
    if ((entry.schemes ?? SCHEMES).includes(scheme) && (entry.bases ?? [base]).includes(base)) out.set(test, entry.why);
  }
  return out;
}

/**
 * Makes build/<base>-suite-release/: the base, its series and the suite
 * patch, configured and compiled (only `targets` and what they need, when
 * given). Nothing is installed: ctest runs the tests from the build tree.
 */
export async function prepareSuite(selected: BaseName | 'auto', targets: readonly string[] = []): Promise<{ base: BaseName; bp: BuildPaths }> {
  say.step(`libzmq source (base: ${selected})`);
  const source = await acquire(selected);
  const bp = buildPaths(source.base, 'release', 'suite');
  fs.rmSync(bp.logs, { recursive: true, force: true });
  say.step(`Source tree: series + ${relative(SUITE_PATCH)} (${relative(bp.dir)})`);
  const label = baseLabel(source.base, source.kind === 'git' ? source.commit : '');
  await prepareTree(source, bp.src, bp.stamp, label, [...seriesFiles(source.base), SUITE_PATCH]);
  say.step('libzmq and its tests, with the switch');
  await configureLibzmq(bp.src, bp, 'release');
  await compileLibzmq(bp, targets);
  return { base: source.base, bp };
}

export type Outcome = 'passed' | 'failed' | 'skipped' | 'no-fd' | 'not-applicable';

export interface SchemeRun {
  scheme: Scheme;
  /** Per test: its outcome, and how many binds/connects the switch made. */
  tests: Map<string, { outcome: Outcome; binds: number; connects: number; why?: string }>;
  junit: string;
  log: string;
  /** What went wrong beyond failed tests: no report, a test that does not exist. */
  problem?: string;
}

/** <testcase name=… status=…> elements of ctest's JUnit output. */
function junitCases(file: string): Map<string, 'passed' | 'failed' | 'skipped'> {
  const cases = new Map<string, 'passed' | 'failed' | 'skipped'>();
  const xml = fs.readFileSync(file, 'utf8');
  for (const m of xml.matchAll(/<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const attrs = m[1] ?? '';
    const name = /\bname="([^"]*)"/.exec(attrs)?.[1];
    if (!name) continue;
    const status = /\bstatus="([^"]*)"/.exec(attrs)?.[1] ?? '';
    const body = m[3] ?? '';
    if (/<failure\b|<error\b/.test(body) || status === 'fail') cases.set(name, 'failed');
    else if (/<skipped\b/.test(body) || status === 'notrun' || status === 'disabled') cases.set(name, 'skipped');
    else cases.set(name, 'passed');
  }
  return cases;
}

/** Per test: binds and connects the switch made (its ZMQ_FD_TESTUTIL_LOG lines). */
function switches(file: string): Map<string, { binds: number; connects: number }> {
  const out = new Map<string, { binds: number; connects: number }>();
  if (!fs.existsSync(file)) return out;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const [test, what] = line.split('\t');
    if (!test || !what) continue;
    const entry = out.get(test) ?? { binds: 0, connects: 0 };
    if (what === 'bind') entry.binds++;
    else entry.connects++;
    out.set(test, entry);
  }
  return out;
}

/** ctest over one scheme; `only`: these tests (and fewer, if some are not applicable). */
export async function runScheme(base: BaseName, bp: BuildPaths, scheme: Scheme, only?: readonly string[]): Promise<SchemeRun> {
  const junit = path.join(SUITE_REPORTS, `${base}-${scheme}.xml`);
  const log = path.join(SUITE_REPORTS, `${base}-${scheme}.switches.tsv`);
  const ctestLog = path.join(SUITE_REPORTS, `${base}-${scheme}.ctest.log`);
  for (const file of [junit, log, ctestLog]) fs.rmSync(file, { force: true });
  fs.mkdirSync(SUITE_REPORTS, { recursive: true });
  const na = notApplicable(base, scheme);
  const select = only ? ['-R', `^(${only.join('|')})$`] : [];
  const out = await probe(ctestExcluding(base, 'release', [...na.keys()], '--output-junit', junit, ...select), {
    cwd: bp.cmake,
    env: { ZMQ_FD_TESTUTIL: scheme, ZMQ_FD_TESTUTIL_LOG: log },
    log: ctestLog,
    onLine: (line) => (/^\s*\d+\/\d+ Test\s+#\d+: .*\*\*\*/.test(line) ? `    ${line.trim()}` : undefined),
  });
  const tests: SchemeRun['tests'] = new Map();
  for (const [test, why] of na) if (!only || only.includes(test)) tests.set(test, { outcome: 'not-applicable', binds: 0, connects: 0, why });
  if (!fs.existsSync(junit)) return { scheme, tests, junit, log, problem: `ctest wrote no ${relative(junit)} (exit code ${out.exitCode}); see ${relative(ctestLog)}` };
  const used = switches(log);
  for (const [test, status] of junitCases(junit)) {
    const { binds, connects } = used.get(test) ?? { binds: 0, connects: 0 };
    const outcome: Outcome = status === 'passed' && binds + connects === 0 ? 'no-fd' : status;
    tests.set(test, { outcome, binds, connects });
  }
  const unknown = (only ?? []).filter((test) => !tests.has(test));
  if (unknown.length > 0) return { scheme, tests, junit, log, problem: `ctest knows no test ${unknown.join(', ')} in ${relative(bp.cmake)}` };
  return { scheme, tests, junit, log };
}

export function countOutcomes(run: SchemeRun): Record<Outcome, number> {
  const counts: Record<Outcome, number> = { passed: 0, failed: 0, skipped: 0, 'no-fd': 0, 'not-applicable': 0 };
  for (const t of run.tests.values()) counts[t.outcome]++;
  return counts;
}

export function countsText(c: Record<Outcome, number>): string {
  return `${c.passed} passed over fd, ${c.failed} failed, ${c.skipped} skipped, ${c['no-fd']} passed without an fd endpoint, ${c['not-applicable']} not applicable`;
}

/** reports/suite/<base>.md: one row per test, one column per scheme. */
export function writeMarkdown(base: BaseName, runs: readonly SchemeRun[]): string {
  const file = path.join(SUITE_REPORTS, `${base}.md`);
  const names = [...new Set(runs.flatMap((r) => [...r.tests.keys()]))].sort();
  const mark: Record<Outcome, string> = { passed: '✓', failed: '✗', skipped: '–', 'no-fd': 'no fd', 'not-applicable': 'n/a' };
  const lines = [
    `# libzmq's tests over fd endpoints: ${base}`,
    '',
    ...runs.map((r) => `- \`${r.scheme}\`: ${countsText(countOutcomes(r))}`),
    '',
    '✓ passed using the scheme (binds/connects switched), ✗ failed, – skipped by the test, *no fd* passed without',
    'binding or connecting through the switch, *n/a* not run (suite/not-applicable.json says why).',
    '',
    `| test | ${runs.map((r) => r.scheme).join(' | ')} |`,
    `| --- | ${runs.map(() => '---').join(' | ')} |`,
    ...names.map((n) => {
      const cells = runs.map((r) => {
        const t = r.tests.get(n);
        if (!t) return '';
        return t.outcome === 'passed' || t.outcome === 'failed' ? `${mark[t.outcome]} ${t.binds}b/${t.connects}c` : mark[t.outcome];
      });
      return `| ${n} | ${cells.join(' | ')} |`;
    }),
    '',
  ];
  fs.writeFileSync(file, lines.join('\n'));
  return file;
}
