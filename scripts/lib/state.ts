// build/current.json: what `npm run setup` built last. `npm test`, the series
// tools and the smoke tests all start from it.
import fs from 'node:fs';
import path from 'node:path';
import { paths, type BaseName, type VariantName } from './config.ts';
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
}

export function writeCurrent(record: BuildRecord): void {
  fs.writeFileSync(paths.current, `${JSON.stringify(record, null, 2)}\n`);
  // The "#addon" alias in package.json goes through this link, so it can stay static.
  fs.rmSync(paths.currentLink, { force: true });
  fs.symlinkSync(path.relative(paths.build, record.buildDir), paths.currentLink);
}

/** Synchronous so that test files can read it while declaring their tests. */
export function readCurrent(): BuildRecord {
  if (!fs.existsSync(paths.current)) {
    fail('nothing has been built yet (build/current.json is missing)', ['Run `npm run setup` first.']);
  }
  const record = JSON.parse(fs.readFileSync(paths.current, 'utf8')) as BuildRecord;
  if (!fs.existsSync(record.library) || !fs.existsSync(record.cmakeBuildDir)) {
    fail(`build/current.json points at a build that is gone (${record.buildDir})`, ['Run `npm run setup` again.']);
  }
  return record;
}
