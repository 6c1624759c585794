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
  reports: path.join(ROOT, 'reports'),
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
  },
  debian: {
    kind: 'debian',
    package: 'zeromq3',
    version: '4.3.4-6',
    codename: 'bookworm',
    importBranch: 'debian/4.3.4-6',
    series: 'debian-4.3.4',
    sources: ['apt'],
    ctestExclude: {
      test_security_curve:
        "4.3.4's tests/CMakeLists.txt links src/tweetnacl.c into this test; its sodium_init() stub " +
        "shadows libsodium's, so libsodium is never initialised and sodium_malloc() aborts (fixed " +
        'upstream in 4.3.5; Debian disables the test too: debian/patches/disable-test_security_curve.patch)',
    },
  },
} satisfies Record<string, Base>;

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

/**
 * Build variants map onto libzmq's own sanitizer options and get separate build
 * dirs. Only `release` runs in the Node harness today: a sanitized libzmq loaded
 * into an unsanitized `node` needs the sanitizer runtime LD_PRELOADed (`preload`),
 * which scripts/test.ts does not do yet.
 */
export const VARIANTS = {
  release: { buildType: 'Release', cmake: [], preload: null },
  asan: { buildType: 'RelWithDebInfo', cmake: ['-DENABLE_ASAN=ON'], preload: 'libasan.so' },
  ubsan: { buildType: 'RelWithDebInfo', cmake: ['-DENABLE_UBSAN=ON'], preload: 'libubsan.so' },
  tsan: { buildType: 'RelWithDebInfo', cmake: ['-DENABLE_TSAN=ON'], preload: 'libtsan.so' },
} as const;

export type VariantName = keyof typeof VARIANTS;
export const VARIANT_NAMES = Object.keys(VARIANTS) as VariantName[];

/** Options every libzmq build gets (names checked against 4.3.4, 4.3.5 and master). */
export const LIBZMQ_CMAKE_OPTIONS = [
  '-DENABLE_DRAFTS=ON',
  '-DWITH_LIBSODIUM=ON',
  '-DENABLE_CURVE=ON',
  '-DBUILD_TESTS=ON',
  '-DWITH_DOCS=OFF',
  '-DWITH_DOC=OFF',
  '-DWITH_PERF_TOOL=OFF',
  // libzmq's unittests/ (internal classes) are only built with BUILD_STATIC=ON;
  // tests/ (the public API, ~140 tests) do not need it.
  '-DBUILD_STATIC=OFF',
  // GNUInstallDirs would pick lib/<multiarch> for some prefixes; the harness expects lib/.
  '-DCMAKE_INSTALL_LIBDIR=lib',
];

/**
 * Builds that must not disturb the patched build of a base: the base without
 * its series (`npm run setup -- --unpatched`), and the series applied one
 * commit at a time (`npm run series -- verify`).
 */
export type BuildFlavor = 'unpatched' | 'verify';

/** Everything one base+variant build owns, under build/<base>[-<flavor>]-<variant>/. */
export function buildPaths(base: BaseName, variant: VariantName, flavor?: BuildFlavor) {
  const dir = path.join(paths.build, `${base}${flavor ? `-${flavor}` : ''}-${variant}`);
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

export type BuildPaths = ReturnType<typeof buildPaths>;

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
