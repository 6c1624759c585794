// `npm test -- --library=<path to libzmq.so.5>` (or ZMQ_FD_LIBRARY): the smoke
// tests and the matrix against a libzmq built elsewhere (a distro's package,
// a `dpkg -x`'d .deb). The harness addon only needs zmq.h and something to
// link: it is rebuilt in build/library-<hash>/ against a small prefix whose
// lib/libzmq.so.5 links to that library, and whose RUNPATH makes it the one
// loaded. The record it writes there stands in for build/current.json.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { buildAddon, headerVersion } from './build.ts';
import { ENV, buildPathsIn, paths } from './config.ts';
import { capture, relative } from './proc.ts';
import type { BuildRecord } from './state.ts';
import { fail, say } from './ui.ts';

/** The one line that says why the fd tests cannot pass on this library. */
export const NO_FD_TRANSPORT = 'this libzmq has no fd transport: zmq_has("fd") is false';

/** --library, else ZMQ_FD_LIBRARY; undefined when neither is given. */
export function selectLibrary(flag: string | undefined): string | undefined {
  const given = flag ?? process.env[ENV.library];
  return given === undefined || given === '' ? undefined : given;
}

/**
 * zmq.h for the addon: the library's own prefix (<prefix>/lib[/<multiarch>] →
 * <prefix>/include, as a -dev package installs it), else the patched tree of
 * the recorded build. The addon uses no macro of the series, so any 4.3.x
 * zmq.h declares what it calls.
 */
function findHeader(library: string, recorded: BuildRecord | undefined): string {
  const libdir = path.dirname(library);
  const candidates = [path.join(libdir, '..', 'include'), path.join(libdir, '..', '..', 'include')];
  if (recorded) candidates.push(path.join(recorded.source, 'include'));
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'zmq.h')));
  return found ? path.resolve(found) : fail(`no zmq.h for ${library}`, [
    `Looked in: ${candidates.join(', ')}.`,
    'Install its -dev package (Debian: libzmq3-dev), or `npm run build` once so the patched tree provides one.',
  ]);
}

/** A prefix that pkg-config and the harness's CMakeLists.txt take for an installed libzmq. */
function writePrefix(prefix: string, library: string, include: string, version: string): void {
  fs.rmSync(prefix, { recursive: true, force: true });
  const lib = path.join(prefix, 'lib');
  fs.mkdirSync(path.join(lib, 'pkgconfig'), { recursive: true });
  fs.mkdirSync(path.join(prefix, 'include'));
  for (const header of ['zmq.h', 'zmq_utils.h']) {
    const from = path.join(include, header);
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(prefix, 'include', header));
  }
  // The addon's DT_NEEDED is the soname; its RUNPATH is <prefix>/lib, where the soname is this library.
  fs.symlinkSync(library, path.join(lib, 'libzmq.so.5'));
  fs.symlinkSync('libzmq.so.5', path.join(lib, 'libzmq.so'));
  const pc = [
    `prefix=${prefix}`,
    'libdir=${prefix}/lib',
    'includedir=${prefix}/include',
    '',
    'Name: libzmq',
    `Description: ${library}, under test`,
    `Version: ${version}`,
    'Libs: -L${libdir} -lzmq',
    'Cflags: -I${includedir}',
  ];
  fs.writeFileSync(path.join(lib, 'pkgconfig', 'libzmq.pc'), `${pc.join('\n')}\n`);
}

interface Loaded {
  version: [number, number, number];
  hasFd: boolean;
  loadedFrom: string;
}

/** Loads the addon in a child node and asks the library what it is (a crash there must not end `npm test`). */
async function probeAddon(addon: string): Promise<Loaded> {
  const script =
    `const a = require(${JSON.stringify(addon)});` +
    `console.log(JSON.stringify({ version: a.version(), hasFd: a.has('fd'), loadedFrom: require('fs').realpathSync(a.libraryPath()) }));`;
  const out = await capture([process.execPath, '-e', script], {
    what: `loading the harness addon built against it (${relative(addon)})`,
    todo: ['The library must be a libzmq.so.5 of this architecture; see the error above.'],
  });
  return JSON.parse(out.split('\n').pop() ?? '{}') as Loaded;
}

/**
 * Builds the addon against `given` and writes its record; returns it with the
 * environment that points the ava runs at it (ZMQ_FD_RECORD, ZMQ_FD_ADDON).
 */
export async function prepareLibrary(given: string, recorded: BuildRecord | undefined): Promise<{ record: BuildRecord; env: Record<string, string> }> {
  if (!fs.existsSync(given)) fail(`--library: ${given} does not exist`, ['Give the path of a libzmq.so.5, e.g. /usr/lib/x86_64-linux-gnu/libzmq.so.5.']);
  const library = fs.realpathSync(given);
  const dynamic = await capture(['readelf', '-d', library], { what: `readelf -d ${library}`, todo: ['--library must name a shared library (ELF).'] });
  const soname = /\(SONAME\).*\[(.*)\]/.exec(dynamic)?.[1];
  if (soname !== 'libzmq.so.5') fail(`--library: ${library} has soname ${soname ?? '(none)'}, not libzmq.so.5`, ['Give a libzmq 4.x shared library.']);

  const stat = fs.statSync(library);
  const hash = crypto.createHash('sha256').update(`${library}\0${stat.size}\0${stat.mtimeMs}`).digest('hex').slice(0, 10);
  const bp = buildPathsIn(path.join(paths.build, `library-${hash}`));
  const include = findHeader(library, recorded);
  say.step(`Library under test: ${library}`);
  say.info(`zmq.h from ${include}; addon in ${relative(bp.dir)}`);
  writePrefix(bp.prefix, library, include, headerVersion(path.dirname(include)));
  const addon = await buildAddon(bp);
  const loaded = await probeAddon(addon);
  if (loaded.loadedFrom !== library) {
    fail(`the addon loaded ${loaded.loadedFrom}, not ${library}`, [
      `LD_LIBRARY_PATH (${process.env.LD_LIBRARY_PATH ?? 'unset'}) or LD_PRELOAD overrides the addon's RUNPATH; unset it and rerun.`,
    ]);
  }
  const version = loaded.version.join('.');
  say.info(`zmq_version() ${version}, zmq_has("fd") ${loaded.hasFd}${loaded.hasFd ? '' : ': the fd:// smoke tests are not declared'}`);

  const record: BuildRecord = {
    base: recorded?.base ?? 'debian',
    variant: 'release',
    upstream: `${version} (--library ${given}, zmq_has("fd") ${loaded.hasFd})`,
    zmqVersion: version,
    baseCommit: '',
    origin: `--library ${given}`,
    source: include,
    patches: [],
    prefix: bp.prefix,
    library,
    buildDir: bp.dir,
    cmakeBuildDir: bp.dir,
    addon,
    builtAt: new Date().toISOString(),
    external: { given, hasFd: loaded.hasFd, header: include },
  };
  const file = path.join(bp.dir, 'record.json');
  fs.writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  return { record, env: { [ENV.record]: file, [ENV.addon]: addon } };
}
