// Running a sanitized build (the asan, ubsan and tsan variants): the runtime
// to preload into node, the options and suppressions each sanitizer gets, and
// the reports it leaves behind. scripts/test.ts uses it for every suite.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, VARIANTS, paths, type SanitizerName } from './config.ts';
import { capture, probe, relative } from './proc.ts';
import type { BuildRecord } from './state.ts';
import { fail, say } from './ui.ts';

/** Suppression files, one per checker; each entry says why it is there and how that was shown. */
export const SUPPRESSIONS = path.join(ROOT, 'sanitizers');

/** The runtime's soname prefix and the environment variable that takes its options. */
const RUNTIMES: Record<SanitizerName, { soname: string; optionsVar: string }> = {
  asan: { soname: 'libasan.so', optionsVar: 'ASAN_OPTIONS' },
  ubsan: { soname: 'libubsan.so', optionsVar: 'UBSAN_OPTIONS' },
  tsan: { soname: 'libtsan.so', optionsVar: 'TSAN_OPTIONS' },
};

export interface SanitizedRun {
  sanitizer: SanitizerName;
  /**
   * Put before the command: `setarch … -R` for tsan (see `tsanWrapper`), and
   * `env LD_PRELOAD=…` for node. The preload is not in `env`: zx starts
   * commands through bash, and bash crashes with libtsan preloaded.
   */
  wrap: string[];
  /** Merged over process.env for the command. */
  env: NodeJS.ProcessEnv;
  /** Where the sanitizer writes its reports, one file per process. */
  logDir: string;
}

/** The sanitizer runtime a library was linked with, as a path (from ldd, so the loader's own choice). */
async function runtimePath(library: string, sanitizer: SanitizerName): Promise<string> {
  const { soname } = RUNTIMES[sanitizer];
  const ldd = await capture(['ldd', library]);
  const line = ldd.split('\n').find((l) => l.trim().startsWith(soname));
  const found = line ? /=>\s*(\/\S+)/.exec(line)?.[1] : undefined;
  if (!found) {
    return fail(`${relative(library)} does not link ${soname}*: it is not a ${sanitizer} build`, [
      `Rebuild it: npm run build -- --variant=${sanitizer}`,
    ]);
  }
  return found;
}

/**
 * gcc 12's TSan knows a fixed memory layout; with the mmap randomisation of
 * recent kernels (vm.mmap_rnd_bits above 28) a mapping can land outside it
 * and the process dies with "unexpected memory mapping". Without address
 * randomisation (setarch -R, for this command only) mappings stay in place.
 * Used whenever the kernel allows it, since it costs nothing (with 28 bits,
 * as on the machine this was written on, TSan also runs without it); a
 * container that forbids personality(2) gets the command as it is and a
 * warning.
 */
async function tsanWrapper(): Promise<string[]> {
  const wrap = ['setarch', os.machine(), '-R'];
  const works = await probe([...wrap, 'true']);
  if (works.ok) return wrap;
  const bits = fs.existsSync('/proc/sys/vm/mmap_rnd_bits') ? fs.readFileSync('/proc/sys/vm/mmap_rnd_bits', 'utf8').trim() : 'unknown';
  say.warn(`setarch -R is not allowed here (${works.stderr.trim()}); running TSan with address randomisation (vm.mmap_rnd_bits = ${bits})`);
  return [];
}

function optionString(options: Record<string, string | number>): string {
  return Object.entries(options)
    .map(([k, v]) => `${k}=${v}`)
    .join(':');
}

/**
 * How to run `suite`'s processes against a sanitized build; undefined for a
 * release build. `intoNode`: the processes are node, which is not sanitized,
 * so the runtime that libzmq links must be loaded before anything else.
 */
export async function sanitizedRun(built: BuildRecord, suite: string, intoNode: boolean): Promise<SanitizedRun | undefined> {
  // An earlier sanitized run's reports would not describe this build.
  const logDir = path.join(paths.reports, 'sanitizers', suite);
  fs.rmSync(logDir, { recursive: true, force: true });
  const sanitizer = VARIANTS[built.variant].sanitizer;
  if (!sanitizer) return undefined;
  fs.mkdirSync(logDir, { recursive: true });
  // Writable by all: the security tests' peers drop to nobody, and their reports belong here too.
  fs.chmodSync(logDir, 0o1777);
  const log = path.join(logDir, sanitizer);
  const supp = (name: string): string => path.join(SUPPRESSIONS, `${name}.supp`);
  const env: NodeJS.ProcessEnv = {};
  if (sanitizer === 'asan') {
    env.ASAN_OPTIONS = optionString({ detect_leaks: 1, log_path: log });
    env.LSAN_OPTIONS = optionString({ suppressions: supp('lsan'), print_suppressions: 0 });
  } else if (sanitizer === 'tsan') {
    env.TSAN_OPTIONS = optionString({ log_path: log, suppressions: supp('tsan'), print_suppressions: 0, second_deadlock_stack: 1, history_size: 4 });
  } else {
    env.UBSAN_OPTIONS = optionString({ log_path: log, print_stacktrace: 1, halt_on_error: 1 });
  }
  const preload = intoNode ? ['env', `LD_PRELOAD=${await runtimePath(built.library, sanitizer)}`] : [];
  const wrap = [...(sanitizer === 'tsan' ? await tsanWrapper() : []), ...preload];
  const options = [RUNTIMES[sanitizer].optionsVar, 'LSAN_OPTIONS'].filter((k) => env[k]).map((k) => `${k}=${env[k]}`);
  say.info(`${sanitizer}: ${options.join(' ')}${wrap.length ? `; command under ${wrap.join(' ')}` : ''}`);
  return { sanitizer, wrap, env, logDir };
}

/** One report: the file it is in, and its SUMMARY line (or its first line when it has none: a fatal error). */
export interface SanitizerReport {
  file: string;
  summary: string;
}

/** A report ends with a SUMMARY line; a fatal error has none, but says ERROR or FATAL. */
const FATAL = /^(==\d+==)?(ERROR|FATAL): /;
const UBSAN_ERROR = /:\d+:\d+: runtime error: /;

/**
 * The reports the sanitizer wrote during the run, in file order, and the
 * other lines it wrote (warnings that are not reports, such as LSan's
 * "Running thread N was not suspended", when a thread exits under it).
 */
export function collectReports(run: SanitizedRun): { reports: SanitizerReport[]; notes: string[] } {
  const reports: SanitizerReport[] = [];
  const notes: string[] = [];
  for (const name of fs.readdirSync(run.logDir).sort()) {
    const file = relative(path.join(run.logDir, name));
    const lines = fs.readFileSync(path.join(run.logDir, name), 'utf8').split('\n').filter((l) => l.trim() !== '');
    const summaryLines = lines.filter((l) => l.startsWith('SUMMARY: '));
    // UBSan may write no SUMMARY line, only "file:line:col: runtime error: …" per error.
    const summaries = summaryLines.length > 0 ? summaryLines : lines.filter((l) => UBSAN_ERROR.test(l));
    const fatal = lines.find((l) => FATAL.test(l));
    if (summaries.length > 0) for (const summary of summaries) reports.push({ file, summary });
    else if (fatal) reports.push({ file, summary: fatal });
    else notes.push(...lines.map((l) => `${l} (${file})`));
  }
  return { reports, notes };
}

/**
 * The environment for a node child process that a test starts (a peer, a
 * process with a low descriptor limit). Under ASan that child is node with
 * the runtime preloaded, and LeakSanitizer would report what V8 still holds
 * when it exits: node's, not libzmq's, so leak checking is off there.
 */
export function nodeChildEnv(): NodeJS.ProcessEnv {
  const options = process.env.ASAN_OPTIONS;
  return options ? { ...process.env, ASAN_OPTIONS: `${options}:detect_leaks=0` } : process.env;
}
