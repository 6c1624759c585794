// build/current.json: what `npm run setup` built last. `npm test`, the series
// tools and the smoke tests all start from it.
import fs from 'node:fs';
import path from 'node:path';
import { ENV, VARIANTS, paths, type BaseName, type VariantName } from './config.ts';
import { fail } from './ui.ts';

export interface BuildRecord {
  base: BaseName;
  variant: VariantName;
  /** Human-readable upstream version, e.g. "4.3.4-6 (Debian)" or "master 6b708e4a". */
  upstream: string;
  /** What zmq_version() must report: the version macros of the built tree's zmq.h. */
  zmqVersion: string;
  baseCommit: string;
  /** Where the source came from (libzmq/ checkout, $ZMQ_FD_LIBZMQ_GIT, apt-get source…). */
  origin: string;
  /** The patched source tree. */
  source: string;
  /** Applied patches, relative to the project root, in order. */
  patches: string[];
  prefix: string;
  /** Real path of the installed libzmq.so. */
  library: string;
  /** build/<base>-<variant>: everything this build owns. */
  buildDir: string;
  cmakeBuildDir: string;
  addon: string;
  builtAt: string;
  /** Set when `npm test -- --library` tests a libzmq built elsewhere (scripts/lib/library.ts). */
  external?: {
    /** The path as given. */
    given: string;
    /** zmq_has("fd") of the loaded library. */
    hasFd: boolean;
    /** Where the addon's zmq.h came from. */
    header: string;
  };
}

export function writeCurrent(record: BuildRecord): void {
  fs.writeFileSync(paths.current, `${JSON.stringify(record, null, 2)}\n`);
  // The "#addon" alias in package.json goes through this link, so it can stay static.
  fs.rmSync(paths.currentLink, { force: true });
  fs.symlinkSync(path.relative(paths.build, record.buildDir), paths.currentLink);
}

/** Synchronous so that test files can read it while declaring their tests. */
export function readCurrent(): BuildRecord {
  // `npm test -- --library` points its ava runs at the record of that library.
  const file = process.env[ENV.record] || paths.current;
  if (!fs.existsSync(file)) {
    fail(`nothing has been built yet (${file} is missing)`, ['Run `npm run setup` first.']);
  }
  const record = JSON.parse(fs.readFileSync(file, 'utf8')) as BuildRecord;
  if (!fs.existsSync(record.library) || !fs.existsSync(record.cmakeBuildDir)) {
    fail(`build/current.json points at a build that is gone (${record.buildDir})`, ['Run `npm run setup` again.']);
  }
  return record;
}

/**
 * The recorded build, for a command that runs it in plain node (`npm run
 * bench`, `npm run soak`): it must carry the series, and be unsanitized.
 * `sanitizedWhy` says why this command refuses a sanitized build.
 */
export function readPatchedRelease(command: string, sanitizedWhy: string): BuildRecord {
  const built = readCurrent();
  if (built.patches.length === 0) {
    fail('the recorded build has no patches: fd:// endpoints do not exist in it', [`Build the patched library: npm run build -- --base=${built.base}`]);
  }
  if (VARIANTS[built.variant].sanitizer) {
    fail(`the recorded build is the ${built.variant} variant: ${sanitizedWhy}`, [`Run ${command} on a release build: npm run build -- --base=${built.base}`]);
  }
  return built;
}
