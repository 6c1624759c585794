// `npm run fuzz`: libzmq's fuzzers under libFuzzer with ASan and UBSan, built
// with libzmq's own fuzzing option (autotools: --with-fuzzing-engine) by
// clang, in build/<base>-fuzz/ (never the build of build/current.json); the
// coverage of the series' fd files from the committed corpus; the seeds.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensurePackages } from './lib/apt.ts';
import { JOBS } from './lib/build.ts';
import { BASE_NAMES, ENV, paths, selectBase, type BaseName } from './lib/config.ts';
import { FUZZERS, FUZZER_KEYS, FUZZ_DIR, corpusDir, corpusFiles, overPipes, type FuzzerKey, type FuzzerName } from './lib/fuzz.ts';
import { writeSeeds } from './lib/fuzz-seeds.ts';
import { capture, gitQuery, probe, relative, run, step } from './lib/proc.ts';
import { acquire, baseLabel } from './lib/source.ts';
import { prepareTree, seriesFiles } from './lib/tree.ts';
import { elapsed, fail, main, say, tail } from './lib/ui.ts';

const USAGE = `Usage: npm run fuzz -- [--base=auto|${BASE_NAMES.join('|')}] [--minutes=N] [--fuzzer=${FUZZER_KEYS.join('|')}|all] [--merge] [--coverage] [--seeds]

  --minutes N  build the fuzzers (clang, libFuzzer, ASan + UBSan) and fuzz each selected
               one for N minutes, from fuzz/corpus/<fuzzer>/ into a scratch corpus
               (build/<base>-fuzz/scratch/<fuzzer>/); stops at the first crash
  --fuzzer     which fuzzer: ${FUZZER_KEYS.map((k) => `${k} (${FUZZERS[k]})`).join(', ')}, or all
               (default: fd for --minutes and --merge, all for --coverage)
  --merge      add to fuzz/corpus/<fuzzer>/ the scratch inputs that reach new coverage
               (libFuzzer -merge=1: the committed inputs all stay); commit them
  --coverage   build with clang source-based coverage, replay fuzz/corpus/ and print the
               line and branch coverage of the series' fd files
  --seeds      rewrite the hand-made seeds fuzz/corpus/*/seed-* (see fuzz/README.md)

With none of --minutes, --merge, --coverage, --seeds: --minutes=1. Base: --base or ${ENV.base}.`;

/** clang, libFuzzer (compiler-rt) and llvm-profdata/llvm-cov from Debian, plus libzmq's autotools build. */
const PACKAGES = ['clang-14', 'libclang-rt-14-dev', 'llvm-14', 'autoconf', 'automake', 'libtool', 'make', 'pkg-config', 'git', 'patch'];
const LLVM = '/usr/lib/llvm-14/bin';
const WRAPS_SOURCE = path.join(FUZZ_DIR, 'libfuzzer_wraps.cpp');

/** The files of the series whose coverage matters: the fd address and connecter, and the listener side of `fd://` binds. */
const COVERED = ['src/fd_address.cpp', 'src/fd_connecter.cpp', 'src/stream_listener_base.cpp'];

/** An input of libzmq's bind and connect fuzzers that is an fd endpoint. */
const FD_ENDPOINT = /^(tcp-|ipc-)?fd:\/\//;

type Flavor = 'libfuzzer' | 'coverage';

/** Compiler flags of each build; both link the fuzzers with libFuzzer, whose main replays a corpus with -runs=0. */
const FLAVORS: Record<Flavor, { cflags: string[]; ldflags: string[] }> = {
  libfuzzer: {
    // -fno-sanitize-recover: a UBSan report stops the run, so libFuzzer keeps the input.
    cflags: ['-O1', '-g', '-fno-omit-frame-pointer', '-fsanitize=fuzzer-no-link,address,undefined', '-fno-sanitize-recover=undefined'],
    ldflags: ['-fsanitize=address,undefined'],
  },
  coverage: {
    cflags: ['-O0', '-g', '-fprofile-instr-generate', '-fcoverage-mapping'],
    ldflags: ['-fprofile-instr-generate'],
  },
};

function fuzzPaths(base: BaseName) {
  const dir = path.join(paths.build, `${base}-fuzz`);
  return {
    dir,
    /** The patched tree, kept pristine (prepareTree resets a tree with untracked files). */
    src: path.join(dir, 'src'),
    stamp: path.join(dir, 'src.stamp.json'),
    /** A clone of src/ where autogen.sh runs; the builds are VPATH builds of it. */
    autotools: path.join(dir, 'autotools'),
    build: (flavor: Flavor): string => path.join(dir, flavor),
    scratch: (fuzzer: FuzzerName): string => path.join(dir, 'scratch', fuzzer),
    artifacts: path.join(dir, 'artifacts'),
    /** Working directory of the fuzzers: test_fd_fuzzer makes socket files there. */
    run: path.join(dir, 'run'),
    logs: path.join(dir, 'logs'),
  };
}
type FuzzPaths = ReturnType<typeof fuzzPaths>;

/** The patched tree, and an autotools copy of it with configure generated. */
async function prepareSources(base: BaseName | 'auto'): Promise<{ fp: FuzzPaths; base: BaseName }> {
  say.step('Prerequisites (Debian packages: clang, libFuzzer, LLVM tools, autotools)');
  await ensurePackages(PACKAGES);
  say.step(`libzmq source (base: ${base})`);
  const source = await acquire(base);
  const fp = fuzzPaths(source.base);
  say.step(`Patched source tree (${relative(fp.dir)})`);
  const label = baseLabel(source.base, source.kind === 'git' ? source.commit : '');
  await prepareTree(source, fp.src, fp.stamp, label, seriesFiles(source.base));

  const head = await capture(['git', 'rev-parse', 'HEAD'], { cwd: fp.src });
  const generated = path.join(fp.autotools, '.zmq-fd-autogen');
  if (fs.existsSync(generated) && fs.readFileSync(generated, 'utf8').trim() === head && fs.existsSync(path.join(fp.autotools, 'configure'))) {
    say.info(`${relative(fp.autotools)}: configure is up to date`);
    return { fp, base: source.base };
  }
  if ((await gitQuery(fp.autotools, 'rev-parse', '--git-dir')) === undefined) {
    fs.rmSync(fp.autotools, { recursive: true, force: true });
    await run(['git', 'clone', '--quiet', '--shared', '--no-checkout', fp.src, fp.autotools]);
  }
  // Only files that differ are rewritten, so that make rebuilds only those.
  await run(['git', 'fetch', '--quiet', fp.src, head], { cwd: fp.autotools });
  await run(['git', '-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--force', '--detach', head], { cwd: fp.autotools });
  await step('autogen.sh (autoreconf)', ['./autogen.sh'], { cwd: fp.autotools, log: path.join(fp.logs, 'autogen.log') });
  fs.writeFileSync(generated, `${head}\n`);
  return { fp, base: source.base };
}

/** Configures (when its options changed) and builds one flavor; returns the fuzzer binaries' folder. */
async function buildFlavor(fp: FuzzPaths, flavor: Flavor, fuzzers: readonly FuzzerName[]): Promise<string> {
  const dir = fp.build(flavor);
  const { cflags, ldflags } = FLAVORS[flavor];
  const configure = [
    path.join(fp.autotools, 'configure'),
    `CC=${LLVM}/clang`,
    `CXX=${LLVM}/clang++`,
    `CFLAGS=${cflags.join(' ')}`,
    `CXXFLAGS=${cflags.join(' ')}`,
    `LDFLAGS=${ldflags.join(' ')}`,
    // libzmq's fuzzing option: static library, fuzzers linked with the engine.
    '--enable-static',
    '--disable-shared',
    '--with-fuzzing-engine=-fsanitize=fuzzer',
    '--with-fuzzing-installdir=fuzzers',
    '--enable-drafts',
    // Not what the fd endpoints touch, and each saves build time.
    '--disable-curve',
    '--disable-curve-keygen',
    '--disable-perf',
    '--without-docs',
    // clang warns where g++ does not; warnings are not this build's business.
    '--disable-Werror',
  ];
  const stamp = path.join(dir, '.zmq-fd-configure');
  const wanted = JSON.stringify(configure);
  const log = (name: string): string => path.join(fp.logs, `${flavor}-${name}.log`);
  const todo = [`See the log; a stale build can be dropped with rm -rf ${relative(dir)}.`];
  if (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== wanted || !fs.existsSync(path.join(dir, 'Makefile'))) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    await step(`configure the ${flavor} build (clang: ${cflags.join(' ')})`, configure, { cwd: dir, log: log('configure'), todo });
    fs.writeFileSync(stamp, wanted);
  } else {
    say.info(`reusing ${relative(dir)} (incremental build)`);
  }
  // fuzz/libfuzzer_wraps.cpp: see there why. make does not see a change in
  // FUZZING_ENGINE_LIB, hence a fresh link every time.
  const wraps = path.join(dir, 'zmq-fd-libfuzzer-wraps.o');
  await run([`${LLVM}/clang++`, ...cflags, `-I${path.join(fp.autotools, 'external', 'unity')}`, '-DUNITY_USE_COMMAND_LINE_ARGS', '-DUNITY_EXCLUDE_FLOAT', '-c', WRAPS_SOURCE, '-o', wraps], {
    what: `compile ${relative(WRAPS_SOURCE)}`,
  });
  for (const f of fuzzers) fs.rmSync(path.join(dir, 'tests', f), { force: true });
  const engine = `FUZZING_ENGINE_LIB=-fsanitize=fuzzer ${wraps} -Wl,--wrap=LLVMFuzzerTestOneInput -Wl,--wrap=zmq_ctx_term`;
  const targets = ['src/libzmq.la', 'external/unity/libunity.a', 'tests/libtestutil.a', ...fuzzers.map((f) => `tests/${f}`)];
  let compiled = 0;
  const start = Date.now();
  await step(`compile libzmq and ${fuzzers.join(', ')} (-j${JOBS})`, ['make', `-j${JOBS}`, engine, ...targets], {
    cwd: dir,
    log: log('build'),
    todo,
    // Silent rules print one "CXX file" line per compiled file: show a count now and then.
    onLine: (line) => (/^\s+(CC|CXX)\s/.test(line) && ++compiled % 20 === 0 ? `    ${compiled} files compiled  [${elapsed(start)}]` : undefined),
  });
  return path.join(dir, 'tests');
}

interface RunStats {
  executions: number;
  execPerSec: number;
  newUnits: number;
  corpus: number;
  crash?: string;
}

/** One fuzzer for `seconds`, with a progress line every 30 s, from libFuzzer's own status lines. */
async function fuzzOne(fp: FuzzPaths, bin: string, fuzzer: FuzzerName, seconds: number): Promise<RunStats> {
  const scratch = fp.scratch(fuzzer);
  for (const d of [scratch, fp.artifacts, fp.run]) fs.mkdirSync(d, { recursive: true });
  const log = path.join(fp.logs, `fuzz-${fuzzer}.log`);
  fs.rmSync(log, { force: true });
  say.step(`${fuzzer}: fuzzing for ${seconds / 60} min (log: ${relative(log)})`);
  say.info(`corpus: ${relative(scratch)}/ (new inputs) + ${relative(corpusDir(fuzzer))}/ (${corpusFiles(fuzzer).length} committed)`);
  const start = Date.now();
  let lastShown = start;
  let status = '';
  let crash: string | undefined;
  const out = await probe(
    overPipes([
      path.join(bin, fuzzer),
      `-max_total_time=${seconds}`,
      // A hang is a bug too (a spin). An input takes milliseconds; the bound
      // is wide because a 2-core machine shared with builds stalls threads.
      '-timeout=30',
      '-print_final_stats=1',
      `-artifact_prefix=${fp.artifacts}/${fuzzer}-`,
      scratch,
      corpusDir(fuzzer),
    ]),
    {
      cwd: fp.run,
      log,
      // UBSan must stop at its first report; ASan's leak check stays on.
      env: { UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1', ASAN_OPTIONS: 'abort_on_error=1:detect_leaks=1' },
      onLine: (line) => {
        const unit = /Test unit written to (\S+)/.exec(line);
        if (unit) crash = unit[1];
        if (/^#\d+\s/.test(line)) status = line;
        if (/ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer|libFuzzer)|runtime error:|^FAIL|:FAIL/.test(line)) return `    ${line}`;
        if (status && Date.now() - lastShown >= 30_000) {
          lastShown = Date.now();
          return `    [${elapsed(start)}] ${status}`;
        }
        return undefined;
      },
    },
  );
  const stat = (name: string): number => Number(new RegExp(`^stat::${name}:\\s+(\\d+)`, 'm').exec(out.stdall)?.[1] ?? NaN);
  const corpus = Number(/corp: (\d+)\//.exec(status)?.[1] ?? NaN);
  if (!out.ok && crash === undefined) {
    fail(`${fuzzer} stopped (exit code ${out.exitCode}) without writing a crashing input`, [`See ${relative(log)}.`], tail(out.stdall, 30));
  }
  return { executions: stat('number_of_executed_units'), execPerSec: stat('average_exec_per_sec'), newUnits: stat('new_units_added'), corpus, ...(crash ? { crash } : {}) };
}

/** libFuzzer -merge=1: the scratch inputs that add coverage go into the committed corpus. */
async function merge(fp: FuzzPaths, bin: string, fuzzer: FuzzerName): Promise<void> {
  const scratch = fp.scratch(fuzzer);
  const committed = new Set(corpusFiles(fuzzer));
  const before = committed.size;
  if (!fs.existsSync(scratch) || fs.readdirSync(scratch).length === 0) {
    say.info(`${fuzzer}: nothing in ${relative(scratch)} to merge (fuzz with --minutes first)`);
    return;
  }
  fs.mkdirSync(fp.run, { recursive: true });
  await step(
    `${fuzzer}: merge ${relative(scratch)} into ${relative(corpusDir(fuzzer))}`,
    overPipes([path.join(bin, fuzzer), '-merge=1', `-artifact_prefix=${fp.artifacts}/${fuzzer}-`, corpusDir(fuzzer), scratch]),
    { cwd: fp.run, log: path.join(fp.logs, `merge-${fuzzer}.log`) },
  );
  // libzmq's bind and connect fuzzers take any endpoint: inputs for other
  // transports are their business, and would make the replay in npm test
  // depend on the network (tcp:// names, ports something else listens on).
  const dropped = corpusFiles(fuzzer).filter((f) => !committed.has(f) && !FD_ENDPOINT.test(fs.readFileSync(f, 'latin1')));
  for (const f of fuzzer === FUZZERS.fd ? [] : dropped) fs.rmSync(f);
  if (fuzzer !== FUZZERS.fd && dropped.length > 0) say.info(`${fuzzer}: left out ${dropped.length} new inputs that are not fd endpoints`);
  say.info(`${fuzzer}: ${relative(corpusDir(fuzzer))} now has ${corpusFiles(fuzzer).length} inputs (${corpusFiles(fuzzer).length - before} added); review and commit them`);
}

/** Replays the committed corpus through the coverage build and prints llvm-cov's report for COVERED. */
async function coverage(fp: FuzzPaths, fuzzers: readonly FuzzerName[]): Promise<void> {
  const bin = await buildFlavor(fp, 'coverage', fuzzers);
  const profiles = path.join(fp.dir, 'profiles');
  fs.rmSync(profiles, { recursive: true, force: true });
  fs.mkdirSync(fp.run, { recursive: true });
  for (const fuzzer of fuzzers) {
    await step(
      `${fuzzer}: replay ${relative(corpusDir(fuzzer))} (${corpusFiles(fuzzer).length} inputs) for coverage`,
      overPipes([path.join(bin, fuzzer), '-runs=0', corpusDir(fuzzer)]),
      { cwd: fp.run, env: { LLVM_PROFILE_FILE: path.join(profiles, `${fuzzer}-%p.profraw`) }, log: path.join(fp.logs, `coverage-${fuzzer}.log`) },
    );
  }
  const merged = path.join(fp.dir, 'coverage.profdata');
  const raw = fs.readdirSync(profiles).map((f) => path.join(profiles, f));
  await run([`${LLVM}/llvm-profdata`, 'merge', '-sparse', '-o', merged, ...raw], { what: 'llvm-profdata merge' });
  const [first, ...others] = fuzzers.map((f) => path.join(bin, f));
  const files = COVERED.map((f) => path.join(fp.autotools, f));
  const report = await capture([`${LLVM}/llvm-cov`, 'report', first ?? '', ...others.flatMap((o) => ['-object', o]), `-instr-profile=${merged}`, ...files]);
  const text = `Coverage of the committed corpus (${fuzzers.join(', ')}), clang source-based:\n\n${report}\n`;
  fs.writeFileSync(path.join(fp.dir, 'coverage.txt'), text);
  say.step('Coverage');
  console.log(text);
  say.info(`line by line: ${LLVM}/llvm-cov show ${relative(first ?? '')} ${others.map((o) => `-object ${relative(o)} `).join('')}-instr-profile=${relative(merged)} ${COVERED.map((f) => relative(path.join(fp.autotools, f))).join(' ')}`);
}

main(async () => {
  const { values } = parseArgs({
    options: {
      base: { type: 'string' },
      minutes: { type: 'string' },
      fuzzer: { type: 'string' },
      merge: { type: 'boolean' },
      coverage: { type: 'boolean' },
      seeds: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const base = selectBase(values.base);
  const choice = values.fuzzer;
  if (choice !== undefined && choice !== 'all' && !(FUZZER_KEYS as string[]).includes(choice)) {
    fail(`unknown fuzzer "${choice}"`, [`Use --fuzzer=<${[...FUZZER_KEYS, 'all'].join('|')}>.`]);
  }
  const all = Object.values(FUZZERS);
  // Fuzzing defaults to the fd fuzzer; coverage to the whole corpus.
  const fuzzers = choice === 'all' ? all : [FUZZERS[(choice ?? 'fd') as FuzzerKey]];
  const idle = values.minutes === undefined && !values.merge && !values.coverage && !values.seeds;
  const minutes = Number(values.minutes ?? (idle ? '1' : '0'));
  if (!Number.isFinite(minutes) || minutes < 0) fail(`--minutes must be a number of minutes, not "${values.minutes}"`);

  if (values.seeds) {
    say.step('Seeds');
    writeSeeds();
  }
  if (minutes === 0 && !values.merge && !values.coverage) return;

  const { fp } = await prepareSources(base);
  if (minutes > 0 || values.merge) {
    say.step('libFuzzer build (clang, ASan + UBSan)');
    const bin = await buildFlavor(fp, 'libfuzzer', fuzzers);
    const results: [FuzzerName, RunStats][] = [];
    if (minutes > 0) {
      for (const fuzzer of fuzzers) {
        const stats = await fuzzOne(fp, bin, fuzzer, Math.round(minutes * 60));
        results.push([fuzzer, stats]);
        if (stats.crash) break;
      }
    }
    if (values.merge) for (const fuzzer of fuzzers) await merge(fp, bin, fuzzer);
    if (results.length > 0) {
      say.step('Fuzzing results');
      for (const [fuzzer, s] of results) {
        say.info(`${fuzzer}: ${s.executions} executions, ${s.execPerSec} exec/s, ${s.newUnits} new inputs, corpus ${s.corpus} inputs (${relative(fp.scratch(fuzzer))}/)`);
        if (s.crash) {
          say.info(`${fuzzer}: CRASH, reproducer ${relative(s.crash)}`);
          say.info(`  reproduce: (cd ${relative(fp.run)} && ${path.join(bin, fuzzer)} ${s.crash})`);
        }
      }
      if (results.some(([, s]) => s.crash)) process.exitCode = 1;
      else if (!values.merge) say.info('no crash; `npm run fuzz -- --merge` adds the new inputs that reach new coverage to fuzz/corpus/');
    }
  }
  if (values.coverage) {
    say.step('Coverage build (clang -fprofile-instr-generate -fcoverage-mapping)');
    await coverage(fp, choice === undefined ? all : fuzzers);
  }
});
