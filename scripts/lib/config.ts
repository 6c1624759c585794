// The one place that says what can be built: bases, variants, paths and the
// environment variables that select them. Every script reads these tables.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail } from './ui.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

export const paths = {
  root: ROOT,
  libzmq: path.join(ROOT, 'libzmq'),
  patches: path.join(ROOT, 'patches'),
  build: path.join(ROOT, 'build'),
  /** ZMQ_FD_REPORTS moves them: a nested `npm test` (the library suite, `npm run deb`) must not overwrite the outer run's. */
  reports: process.env.ZMQ_FD_REPORTS || path.join(ROOT, 'reports'),
  /** What `npm run setup` built last; `npm test` and the harness read it. */
  current: path.join(ROOT, 'build', 'current.json'),
  /** Link to the build dir of current.json, so the `#addon` import alias can be static. */
  currentLink: path.join(ROOT, 'build', 'current'),
  /** Downloaded source packages, shared by all variants of a base. */
  downloads: path.join(ROOT, 'build', 'downloads'),
};

export const ENV = {
  base: 'ZMQ_FD_BASE',
  variant: 'ZMQ_FD_VARIANT',
  git: 'ZMQ_FD_LIBZMQ_GIT',
  /** `npm test -- --library=<libzmq.so.5>`: test a libzmq built elsewhere (scripts/lib/library.ts). */
  library: 'ZMQ_FD_LIBRARY',
  /** Set by `npm test -- --library` for its ava runs: the record and addon of that library. */
  record: 'ZMQ_FD_RECORD',
  addon: 'ZMQ_FD_ADDON',
} as const;

/** Where a libzmq source can come from; see `describeSource` in source.ts. */
export type SourceKind = 'checkout' | 'submodule' | 'git-env' | 'apt';

interface BaseCommon {
  /** Folder under patches/ holding this base's `git format-patch` series. */
  readonly series: string;
  /** Sources that can provide this base, in the order they are tried. */
  readonly sources: readonly SourceKind[];
  /** libzmq tests that cannot pass on this base whatever the series does: name → why. */
  readonly ctestExclude?: Readonly<Record<string, string>>;
  /**
   * Upstream commits that the series carries first, as a distro backports
   * fixes: the base that the upstream fixes must apply to alone includes them.
   * Named by subject.
   */
  readonly backports?: readonly string[];
}

export interface GitBase extends BaseCommon {
  readonly kind: 'git';
  /** `gitlink`: the commit the superproject pins libzmq/ at; otherwise a tag. */
  readonly rev: { readonly gitlink: true } | { readonly tag: string };
}

export interface DebianBase extends BaseCommon {
  readonly kind: 'debian';
  readonly package: string;
  readonly version: string;
  /** Debian release whose deb-src index serves `version` (newer pool files are gone). */
  readonly codename: string;
  /** Branch in libzmq/ holding the imported Debian tree (`series branch debian`). */
  readonly importBranch: string;
}

export type Base = GitBase | DebianBase;

/**
 * Upstream's 959a1335 (SEGV #4524, after 4.3.5), which the 4.3.x series carry
 * as a backport: before it, zmq_socket_monitor_pipes_stats sends a command to
 * a pipe that has just finished terminating, and the I/O thread crashes; the
 * soak hit it within 50 cycles on 4.3.4. soak/cycles.ts counts pipes only
 * where libzmq has it.
 */
export const PIPE_STATS_FIX = 'Fixing SEGV #4524. Pipe should only send to peer when active. (#4647)';

const DEFINITIONS = {
  master: {
    kind: 'git',
    rev: { gitlink: true },
    series: 'master',
    sources: ['checkout', 'submodule', 'git-env'],
  },
  'v4.3.5': {
    kind: 'git',
    rev: { tag: 'v4.3.5' },
    series: 'v4.3.5',
    sources: ['checkout', 'submodule', 'git-env'],
    backports: [PIPE_STATS_FIX],
  },
  debian: {
    kind: 'debian',
    package: 'zeromq3',
    version: '4.3.4-6',
    codename: 'bookworm',
    importBranch: 'debian/4.3.4-6',
    series: 'debian-4.3.4',
    sources: ['apt'],
    // 4.3.4's test_filter_ipc expects a send to succeed over a connection that
    // the IPC filter may already have refused: it fails under load. Upstream
    // fixed the test for 4.3.5 (bd0a3489, by Debian's maintainer).
    // 4.3.4's CMake build never defines HAVE_POSIX_MEMALIGN, so command_t,
    // declared 64-byte aligned, lives in malloc'ed yqueue chunks: UBSan stops
    // every test on it. Upstream fixed it for 4.3.5 (ca8e30ed).
    // 4.3.4's test_inproc_connect binds a PUB while another thread connects a
    // SUB and closes it at once: about 1 run in 300 aborts in pipe.cpp (or
    // crashes) under load, in CI too. Upstream fixed the test for 4.3.5
    // (de03c9a6, by Debian's maintainer).
    backports: [
      'Problem: test_filter_ipc is flacky',
      PIPE_STATS_FIX,
      'fixes for UBSAN warnings (#4223)',
      'Problem: test_inproc_connect occasionally fails on slow archs',
    ],
    ctestExclude: {
      test_security_curve:
        "4.3.4's tests/CMakeLists.txt links src/tweetnacl.c into this test; its sodium_init() stub " +
        "shadows libsodium's, so libsodium is never initialised and sodium_malloc() aborts (fixed " +
        'upstream in 4.3.5; Debian disables the test too: debian/patches/disable-test_security_curve.patch)',
    },
  },
} satisfies Record<string, Base>;

/**
 * The commits of every series that fix libzmq bugs of every transport, which
 * the fd transports only make easy to hit. Each goes upstream as its own pull
 * request, so each must apply alone to its base, without the rest of the
 * series, and pass there: `npm run series -- check` applies each alone,
 * `verify` also builds and tests it. Named by subject, which is the same on
 * every base.
 */
export const STANDALONE_FIXES: readonly string[] = [
  'Problem: test_filter_ipc waits out its send time-out',
  'Problem: test_mock_pub_sub hangs when the handshake ends after its wait',
  'Problem: messages received just before a connection ends for good are lost',
  'Problem: a failed zmq_bind reports EAGAIN when a monitor watches it',
  'Problem: a listener aborts or spins when descriptors run out',
  'Problem: a connection that refuses its TCP options leaks or aborts',
  'Problem: a disconnect during the handshake waits for its time-out',
  'Problem: a ZMQ_STREAM socket that closes a connection does not say so',
  'Problem: a ZMTP 1.0 peer aborts a socket that is disconnecting from it',
  'Problem: zmq_disconnect races with the connecter it stops',
];

export type BaseName = keyof typeof DEFINITIONS;
export const BASES: Readonly<Record<BaseName, Base>> = DEFINITIONS;
export const BASE_NAMES = Object.keys(BASES) as BaseName[];

/** `--base=auto`: sources in this order; the first that works decides the base. */
export const AUTO_ORDER: readonly { source: SourceKind; base: BaseName }[] = [
  { source: 'checkout', base: 'master' },
  { source: 'submodule', base: 'master' },
  { source: 'git-env', base: 'master' },
  { source: 'apt', base: 'debian' },
];

/** A sanitizer's flag on every compile and link of libzmq and its tests (C and C++). */
function plainSanitizerFlags(flag: string): string[] {
  const compile = `${flag} -fno-omit-frame-pointer`;
  return [`-DCMAKE_C_FLAGS=${compile}`, `-DCMAKE_CXX_FLAGS=${compile}`, `-DCMAKE_EXE_LINKER_FLAGS=${flag}`, `-DCMAKE_SHARED_LINKER_FLAGS=${flag}`];
}

/**
 * Build variants, each in its own build dir. A sanitized libzmq loaded into an
 * unsanitized `node` needs the sanitizer runtime it links LD_PRELOADed
 * (`sanitizer`; scripts/lib/sanitizers.ts finds the runtime and sets it up).
 * asan uses libzmq's own option. tsan and ubsan use the plain compiler flag
 * instead of libzmq's ENABLE_TSAN and ENABLE_UBSAN, which are clang-only:
 * ENABLE_TSAN adds `-mllvm` flags that g++ rejects, and those flags turn off
 * the instrumentation of memory accesses, which is most of what TSan checks;
 * ENABLE_UBSAN adds checks g++ does not have (`-fsanitize=integer`,
 * `implicit-conversion`, `nullability`) and forces a Debug build.
 */
export type SanitizerName = 'asan' | 'ubsan' | 'tsan';

export interface Variant {
  readonly buildType: string;
  readonly cmake: readonly string[];
  readonly sanitizer: SanitizerName | null;
  /** libzmq tests that cannot pass under this variant whatever the series does: name → why. */
  readonly ctestExclude?: Readonly<Record<string, string>>;
}

/**
 * test_radio_dish sleeps for a fixed 9.8 s of its 10 s time limit (zmq_sleep
 * and msleep in its TCP and UDP cases; 9.8 s measured on the Debian release
 * build), so a sanitizer's start-up and shutdown cost alone takes it over:
 * under ASan it timed out at 10.02 s in ctest and took 10.7-10.9 s run by hand,
 * passing every case.
 */
const SLOW_UNDER_SANITIZERS = {
  test_radio_dish: 'sleeps 9.8 s of its 10 s time limit, so any sanitizer overhead times it out (its cases pass: config.ts)',
};

const VARIANT_DEFINITIONS = {
  release: { buildType: 'Release', cmake: [], sanitizer: null },
  asan: { buildType: 'RelWithDebInfo', cmake: ['-DENABLE_ASAN=ON'], sanitizer: 'asan', ctestExclude: SLOW_UNDER_SANITIZERS },
  ubsan: { buildType: 'RelWithDebInfo', cmake: plainSanitizerFlags('-fsanitize=undefined'), sanitizer: 'ubsan', ctestExclude: SLOW_UNDER_SANITIZERS },
  tsan: { buildType: 'RelWithDebInfo', cmake: plainSanitizerFlags('-fsanitize=thread'), sanitizer: 'tsan', ctestExclude: SLOW_UNDER_SANITIZERS },
} satisfies Record<string, Variant>;

export type VariantName = keyof typeof VARIANT_DEFINITIONS;
export const VARIANTS: Readonly<Record<VariantName, Variant>> = VARIANT_DEFINITIONS;
export const VARIANT_NAMES = Object.keys(VARIANTS) as VariantName[];

/** Options every libzmq build gets (names checked against 4.3.4, 4.3.5 and master). */
export const LIBZMQ_CMAKE_OPTIONS = [
  '-DENABLE_DRAFTS=ON',
  '-DWITH_LIBSODIUM=ON',
  '-DENABLE_CURVE=ON',
  '-DBUILD_TESTS=ON',
  '-DWITH_DOCS=OFF',
  '-DWITH_DOC=OFF',
  '-DWITH_PERF_TOOL=ON', // local_thr/remote_thr, local_lat/remote_lat: npm run bench runs them
  // libzmq's unittests/ (internal classes) are only built with BUILD_STATIC=ON;
  // tests/ (the public API, ~140 tests) do not need it.
  '-DBUILD_STATIC=OFF',
  // GNUInstallDirs would pick lib/<multiarch> for some prefixes; the harness expects lib/.
  '-DCMAKE_INSTALL_LIBDIR=lib',
];

/**
 * libzmq's tests that every commit of the series must pass: those the series
 * adds or changes, and those of the machinery it touches (endpoints, sessions,
 * listeners, monitor, reconnection). Names a commit does not have yet match
 * nothing. The tsan variant runs these too (scripts/test.ts).
 */
export const TOUCHED_TESTS: readonly string[] = [
  'test_fd',
  'test_fd_syscalls',
  'test_fd_fuzzer',
  'test_accept_emfile',
  'test_zmtp10_disconnect',
  'test_capabilities',
  'test_bind_fuzzer',
  'test_connect_fuzzer',
  'test_monitor',
  'test_reconnect_ivl',
  'test_reconnect_options',
  'test_immediate',
  'test_use_fd',
  'test_term_endpoint',
  'test_unbind_wildcard',
  'test_filter_ipc',
  'test_tcp_accept_filter',
  'test_stream',
  'test_stream_disconnect',
  'test_pair_tcp',
  'test_pair_ipc',
  'test_reqrep_tcp',
  'test_reqrep_ipc',
  'test_mock_pub_sub',
];

/**
 * Builds that must not disturb the patched build of a base: the base without
 * its series (`npm run setup -- --unpatched`), the series applied one
 * commit at a time (`npm run series -- verify`), and the series plus the
 * suite/ switch of libzmq's test helpers (`npm run suite`).
 */
export type BuildFlavor = 'unpatched' | 'verify' | 'suite';

/** Everything one base+variant build owns, under build/<base>[-<flavor>]-<variant>/. */
export function buildPaths(base: BaseName, variant: VariantName, flavor?: BuildFlavor) {
  return buildPathsIn(path.join(paths.build, `${base}${flavor ? `-${flavor}` : ''}-${variant}`));
}

/** The layout of buildPaths under any build dir (`npm test -- --library` uses build/library-<hash>/). */
export function buildPathsIn(dir: string) {
  return {
    dir,
    /** Patched source tree (a scratch git repo; never libzmq/ itself). */
    src: path.join(dir, 'src'),
    /** libzmq's CMake build dir, kept between runs for incremental builds. */
    cmake: path.join(dir, 'cmake'),
    prefix: path.join(dir, 'prefix'),
    /** cmake-js build dir of the harness addon. */
    harness: path.join(dir, 'harness'),
    logs: path.join(dir, 'logs'),
    /** What src/ holds (base commit + patch digests), to skip resetting it when unchanged. */
    stamp: path.join(dir, 'src.stamp.json'),
  };
}

export type BuildPaths = ReturnType<typeof buildPathsIn>;

/** A base's definition, checked to be of the kind the caller handles. */
export function baseOfKind<K extends Base['kind']>(name: BaseName, kind: K): Extract<Base, { kind: K }> {
  const def = BASES[name];
  if (def.kind !== kind) throw new Error(`base ${name} is a ${def.kind} base, not ${kind}`);
  return def as Extract<Base, { kind: K }>;
}

function pick<T extends string>(what: string, names: readonly T[], value: string | undefined, envName: string): T | undefined {
  if (value === undefined || value === '') return undefined;
  if ((names as readonly string[]).includes(value)) return value as T;
  return fail(`unknown ${what} "${value}"`, [
    `Use --${what}=<${names.join('|')}> or ${envName}=<${names.join('|')}>.`,
  ]);
}

/** --base flag, else ZMQ_FD_BASE, else auto. */
export function selectBase(flag: string | undefined): BaseName | 'auto' {
  return pick<BaseName | 'auto'>('base', [...BASE_NAMES, 'auto'], flag ?? process.env[ENV.base], ENV.base) ?? 'auto';
}

/** --variant flag, else ZMQ_FD_VARIANT, else release. */
export function selectVariant(flag: string | undefined): VariantName {
  return pick('variant', VARIANT_NAMES, flag ?? process.env[ENV.variant], ENV.variant) ?? 'release';
}
