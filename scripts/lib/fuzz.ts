// The fuzzers and their committed corpus (fuzz/corpus/<fuzzer>/), and the
// replay of that corpus through the release build that `npm test` runs: each
// input is one testcase, run by fuzz/replay.cpp compiled with g++ against the
// build in build/current.json, so CI needs neither clang nor a second libzmq.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, paths } from './config.ts';
import { probe, relative, run } from './proc.ts';
import type { BuildRecord } from './state.ts';
import { Fatal, elapsed, fail, say, tail } from './ui.ts';

export const FUZZ_DIR = path.join(ROOT, 'fuzz');
const REPLAY_SOURCE = path.join(FUZZ_DIR, 'replay.cpp');

/** libzmq's fuzzers (tests/<name>.cpp) that this project fuzzes, with a corpus each; the short name is for --fuzzer. */
export const FUZZERS = {
  fd: 'test_fd_fuzzer',
  bind: 'test_bind_fuzzer',
  connect: 'test_connect_fuzzer',
} as const;
export type FuzzerKey = keyof typeof FUZZERS;
export type FuzzerName = (typeof FUZZERS)[FuzzerKey];
export const FUZZER_KEYS = Object.keys(FUZZERS) as FuzzerKey[];

/**
 * `cmd` with stdin from /dev/null and its output through a pipe(2). Node
 * gives a child's stdio as UNIX socketpairs, and libzmq's bind and connect
 * fuzzers pass endpoints such as `fd://1` straight to libzmq, which then
 * adopts the fuzzer's stdout as a ZMTP connection: the output, libFuzzer's
 * statistics with it, is lost. A pipe is refused (ENOTSOCK).
 */
export function overPipes(cmd: readonly string[]): string[] {
  return ['bash', '-o', 'pipefail', '-c', '"$@" </dev/null 2>&1 | cat', 'fuzz', ...cmd];
}

export const corpusDir = (fuzzer: FuzzerName): string => path.join(FUZZ_DIR, 'corpus', fuzzer);

/** The committed inputs of a fuzzer, sorted by name. */
export function corpusFiles(fuzzer: FuzzerName): string[] {
  const dir = corpusDir(fuzzer);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => !name.startsWith('.'))
    .sort()
    .map((name) => path.join(dir, name));
}

interface Case {
  fuzzer: FuzzerName;
  input: string;
  seconds: number;
  /** Why it failed; undefined when it passed. */
  failure?: string;
}

export interface ReplayResult {
  passed: number;
  failed: number;
  skipped: number;
  report: string;
  problem?: string;
}

const xml = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c).replace(/[^\t\n\r\x20-\uFFFD]/g, '?');

function writeJunit(file: string, cases: readonly Case[]): void {
  const failures = cases.filter((c) => c.failure !== undefined).length;
  const total = cases.reduce((s, c) => s + c.seconds, 0);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites tests="${cases.length}" failures="${failures}">`,
    `<testsuite name="fuzz" tests="${cases.length}" failures="${failures}" errors="0" skipped="0" time="${total.toFixed(3)}">`,
    ...cases.map((c) => {
      const open = `<testcase classname="fuzz.${c.fuzzer}" name="${xml(path.basename(c.input))}" time="${c.seconds.toFixed(3)}"`;
      return c.failure === undefined ? `${open}/>` : `${open}><failure message="replay failed">${xml(c.failure)}</failure></testcase>`;
    }),
    '</testsuite>',
    '</testsuites>',
  ];
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

/** `VAR = value` lines of a CMake flags.make: how the build compiled the test. */
function cmakeFlags(flagsMake: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of fs.readFileSync(flagsMake, 'utf8').matchAll(/^(\w+) = (.*)$/gm)) out[m[1] ?? ''] = m[2] ?? '';
  return out;
}

const words = (s: string | undefined): string[] => (s ?? '').split(/\s+/).filter(Boolean);

/**
 * Compiles `fuzzer` with fuzz/replay.cpp exactly as the CMake build compiled and
 * linked the ctest version of that fuzzer (its flags.make and link.txt), with
 * the fuzzer's own main() renamed. Rebuilt only when an input changed.
 */
async function buildDriver(built: BuildRecord, fuzzer: FuzzerName, out: string): Promise<void> {
  const source = path.join(built.source, 'tests', `${fuzzer}.cpp`);
  const targetDir = path.join(built.cmakeBuildDir, 'tests', 'CMakeFiles', `${fuzzer}.dir`);
  const linkTxt = path.join(targetDir, 'link.txt');
  const inputs = [source, REPLAY_SOURCE, path.join(targetDir, 'flags.make'), linkTxt, built.library];
  const outTime = fs.existsSync(out) ? fs.statSync(out).mtimeMs : 0;
  if (inputs.every((f) => fs.statSync(f).mtimeMs < outTime)) return;

  const flags = cmakeFlags(path.join(targetDir, 'flags.make'));
  const compile = [...words(flags.CXX_DEFINES), ...words(flags.CXX_INCLUDES), ...words(flags.CXX_FLAGS)];
  const objects = [`${out}.fuzzer.o`, `${out}.replay.o`];
  const cxx = /^(\S+)/.exec(fs.readFileSync(linkTxt, 'utf8'))?.[1] ?? 'c++';
  const todo = [`The CMake build in ${relative(built.cmakeBuildDir)} must have built ${fuzzer} (BUILD_TESTS=ON); rerun \`npm run build\`.`];
  const what = `compile the replay driver for ${fuzzer}`;
  // The ctest mode's main() would run the fuzzer's own cases; ours replays one file.
  await run([cxx, ...compile, '-Dmain=zmq_fd_ctest_main', '-c', source, '-o', objects[0] ?? ''], { what, todo });
  // replay.cpp includes testutil.hpp, which the fuzzer finds next to itself.
  await run([cxx, ...compile, `-I${path.dirname(source)}`, '-c', REPLAY_SOURCE, '-o', objects[1] ?? ''], { what, todo });
  // link.txt: "<c++> <flags> CMakeFiles/<f>.dir/<f>.cpp.o -o ../bin/<f> <rpath> <libs>", run in tests/.
  const link = words(fs.readFileSync(linkTxt, 'utf8').split('\n')[0]);
  const objectIndex = link.findIndex((w) => w.endsWith(`${fuzzer}.cpp.o`));
  const outIndex = link.indexOf('-o');
  if (objectIndex < 0 || outIndex < 0) fail(`${relative(linkTxt)} does not name ${fuzzer}.cpp.o and an -o output`, todo);
  link.splice(outIndex, 2, '-o', out);
  link.splice(objectIndex, 1, ...objects);
  await run(link, { cwd: path.dirname(path.dirname(targetDir)), what: `link the replay driver for ${fuzzer}`, todo });
}

/**
 * The `fuzz` suite of `npm test`: every committed input of every fuzzer,
 * replayed in a process of its own (a crash fails that input only), with
 * the fuzzer's assertions (test_fd_fuzzer: the errno of RFC.md section 5, the
 * descriptor left as it was) checked by Unity. JUnit to reports/fuzz.xml.
 */
export async function replayCorpus(built: BuildRecord): Promise<ReplayResult> {
  const report = path.join(paths.reports, 'fuzz.xml');
  fs.rmSync(report, { force: true });
  const work = path.join(built.buildDir, 'fuzz-replay');
  // The fuzzers create socket files in their working directory.
  const cwd = path.join(work, 'run');
  fs.mkdirSync(cwd, { recursive: true });
  const cases: Case[] = [];
  const problems: string[] = [];
  for (const fuzzer of Object.values(FUZZERS)) {
    const inputs = corpusFiles(fuzzer);
    if (inputs.length === 0) {
      problems.push(`${relative(corpusDir(fuzzer))} is empty: nothing to replay for ${fuzzer}`);
      cases.push({ fuzzer, input: `${fuzzer} corpus`, seconds: 0, failure: 'no committed inputs' });
      continue;
    }
    if (!fs.existsSync(path.join(built.source, 'tests', `${fuzzer}.cpp`))) {
      // An unpatched build has no test_fd_fuzzer: its inputs fail, as the matrix does.
      const failure = `${built.source}/tests/${fuzzer}.cpp does not exist (is the series applied?)`;
      problems.push(failure);
      for (const input of inputs) cases.push({ fuzzer, input, seconds: 0, failure });
      continue;
    }
    const driver = path.join(work, `${fuzzer}-replay`);
    const start = Date.now();
    try {
      await buildDriver(built, fuzzer, driver);
    } catch (error) {
      // The other fuzzers still run, and the totals line is still printed.
      if (!(error instanceof Fatal)) throw error;
      const failure = `${error.message}\n${error.details}`;
      console.log(`not ok ${fuzzer}: ${failure}`);
      problems.push(`${fuzzer}: ${error.message}`);
      for (const input of inputs) cases.push({ fuzzer, input, seconds: 0, failure });
      continue;
    }
    let failed = 0;
    for (const input of inputs) {
      const t = Date.now();
      const out = await probe(overPipes([driver, input]), { cwd, timeout: '30s' });
      const c: Case = { fuzzer, input, seconds: (Date.now() - t) / 1000 };
      if (!out.ok) {
        const why = out.signal ? `killed by ${out.signal}` : `exit code ${out.exitCode}`;
        c.failure = `${why}\n${out.stdall.trim()}`;
        failed++;
        console.log(`not ok ${fuzzer} ${relative(input)} (${why})`);
        console.log(tail(out.stdall, 15));
      }
      cases.push(c);
    }
    say.info(`${fuzzer}: ${inputs.length} inputs replayed, ${inputs.length - failed} passed, ${failed} failed (${elapsed(start)})`);
  }
  writeJunit(report, cases);
  const failed = cases.filter((c) => c.failure !== undefined).length;
  return { passed: cases.length - failed, failed, skipped: 0, report, ...(problems.length > 0 ? { problem: problems.join('; ') } : {}) };
}
