// Building libzmq (CMake) into a per-build prefix, and the harness addon against it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BASES, LIBZMQ_CMAKE_OPTIONS, ROOT, TOUCHED_TESTS, VARIANTS, paths, type BaseName, type BuildPaths, type VariantName } from './config.ts';
import { capture, localBin, percentProgress, relative, step } from './proc.ts';
import { fail, say } from './ui.ts';

/** Parallel jobs for make and ctest: one per core the process may use. */
export const JOBS = os.availableParallelism();

/** libzmq tests that a base or a variant cannot pass (config.ts, ctestExclude): name → why. */
export function ctestExclusions(base: BaseName, variant: VariantName): [string, string][] {
  return Object.entries({ ...BASES[base].ctestExclude, ...VARIANTS[variant].ctestExclude });
}

/** ctest for a build of `base` and `variant`, leaving out the tests that it cannot pass. */
export function ctestCommand(base: BaseName, variant: VariantName, ...args: string[]): string[] {
  return ctestExcluding(base, variant, [], ...args);
}

/** ctestCommand, also leaving out the tests named in `more`. */
export function ctestExcluding(base: BaseName, variant: VariantName, more: readonly string[], ...args: string[]): string[] {
  const excluded = [...ctestExclusions(base, variant).map(([name]) => name), ...more];
  const exclude = excluded.length > 0 ? ['-E', `^(${excluded.join('|')})$`] : [];
  return ['ctest', '-j', String(JOBS), '--output-on-failure', ...exclude, ...args];
}

/** ctest arguments that select the tests the series touches (config.ts, TOUCHED_TESTS). */
export function touchedTestsFilter(): string[] {
  return ['-R', `^(${TOUCHED_TESTS.join('|')})$`];
}

/** "4.3.4" from the tree's include/zmq.h: what zmq_version() must report once built. */
export function headerVersion(src: string): string {
  const header = fs.readFileSync(path.join(src, 'include', 'zmq.h'), 'utf8');
  const part = (name: string): string => {
    const m = new RegExp(`^#define ZMQ_VERSION_${name} (\\d+)`, 'm').exec(header);
    return m?.[1] ?? fail(`cannot read ZMQ_VERSION_${name} from ${relative(src)}/include/zmq.h`);
  };
  return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
}

const libzmqTodo = (bp: BuildPaths): string[] => [
  'If the patch series broke the build, fix the commits on zmq-fd/<base> in libzmq/ and re-export',
  '(README, "Working on the patch series"); a stale build dir can be dropped with rm -rf ' + relative(bp.cmake) + '.',
];

const libzmqLog = (bp: BuildPaths, name: string): string => path.join(bp.logs, `libzmq-${name}.log`);

/** Configures libzmq's CMake build in `bp.cmake`, reusing it when it belongs to `src`. */
export async function configureLibzmq(src: string, bp: BuildPaths, variant: VariantName): Promise<void> {
  const cache = path.join(bp.cmake, 'CMakeCache.txt');
  if (fs.existsSync(cache)) {
    const home = /^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$/m.exec(fs.readFileSync(cache, 'utf8'))?.[1];
    if (home === src) {
      say.info(`reusing ${relative(bp.cmake)} (incremental build)`);
    } else {
      say.info(`${relative(bp.cmake)} was configured for ${home ?? 'another tree'}; starting it afresh`);
      fs.rmSync(bp.cmake, { recursive: true, force: true });
    }
  }
  const v = VARIANTS[variant];
  const log = (name: string): string => libzmqLog(bp, name);
  await step(
    `configure libzmq (${v.buildType}${v.cmake.length ? ` ${v.cmake.join(' ')}` : ''})`,
    ['cmake', '-S', src, '-B', bp.cmake, `-DCMAKE_BUILD_TYPE=${v.buildType}`, `-DCMAKE_INSTALL_PREFIX=${bp.prefix}`, ...LIBZMQ_CMAKE_OPTIONS, ...v.cmake],
    { log: log('configure'), todo: libzmqTodo(bp) },
  );
}

/** Compiles libzmq and its tests, or only `targets` (CMake target names). */
export async function compileLibzmq(bp: BuildPaths, targets: readonly string[] = []): Promise<void> {
  const what = targets.length > 0 ? `${targets.length} libzmq targets` : 'libzmq and its tests';
  const only = targets.length > 0 ? ['--target', ...targets] : [];
  await step(`compile ${what} (-j${JOBS})`, ['cmake', '--build', bp.cmake, '--parallel', String(JOBS), ...only], {
    log: libzmqLog(bp, 'build'),
    onLine: percentProgress(),
    todo: libzmqTodo(bp),
  });
}

/** Configures (reusing the build dir when it belongs to `src`), compiles and installs libzmq. */
export async function buildLibzmq(src: string, bp: BuildPaths, variant: VariantName): Promise<string> {
  await configureLibzmq(src, bp, variant);
  await compileLibzmq(bp);
  const log = (name: string): string => libzmqLog(bp, name);
  await step('install libzmq', ['cmake', '--install', bp.cmake], { log: log('install') });
  const library = path.join(bp.prefix, 'lib', 'libzmq.so');
  if (!fs.existsSync(library)) fail(`libzmq was installed but ${relative(library)} is missing`, [`See ${relative(log('install'))}.`]);
  return fs.realpathSync(library);
}

/** The addon's path inside a build dir, from the `#addon` import alias in package.json. */
export function addonPath(bp: BuildPaths): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { imports: Record<string, string> };
  const alias = pkg.imports['#addon'] ?? fail('package.json has no "#addon" import alias');
  return path.join(bp.dir, path.relative(path.relative(ROOT, paths.currentLink), alias));
}

/** Builds the harness addon with cmake-js against `bp.prefix`; checks it will load that libzmq. */
export async function buildAddon(bp: BuildPaths): Promise<string> {
  // rebuild, not compile: compile keeps an old configure and ignores new --CD flags.
  await step(
    'build the harness addon (cmake-js)',
    [localBin('cmake-js'), 'rebuild', '--out', bp.harness, `--CDCMAKE_PREFIX_PATH=${bp.prefix}`, '--parallel', String(JOBS)],
    { cwd: ROOT, log: path.join(bp.logs, 'harness.log') },
  );
  const addon = addonPath(bp);
  if (!fs.existsSync(addon)) {
    fail(`cmake-js finished but ${relative(addon)} is missing`, ['harness/CMakeLists.txt and the "#addon" alias in package.json must name the same file.']);
  }
  // Same soname as Debian's libzmq5: without a RUNPATH to the prefix the system copy would load.
  const dynamic = await capture(['readelf', '-d', addon]);
  const libdir = path.join(bp.prefix, 'lib');
  const runpath = /\((?:RUNPATH|RPATH)\).*\[(.*)\]/.exec(dynamic)?.[1] ?? '';
  if (!runpath.split(':').includes(libdir)) {
    fail(`${relative(addon)} has RUNPATH "${runpath}", not ${libdir}`, ['Check that harness/CMakeLists.txt links PkgConfig::ZMQ from the prefix.']);
  }
  return addon;
}
