// The programs a benchmark run starts: libzmq's own perf tools, installed by
// the build under test, and the C programs in bench/c/, compiled against that
// build into build/<base>-<variant>/bench/ when missing or older than their
// source or the library.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../scripts/lib/config.ts';
import { capture, relative, run } from '../scripts/lib/proc.ts';
import type { BuildRecord } from '../scripts/lib/state.ts';
import { fail } from '../scripts/lib/ui.ts';

const SOURCES = path.join(ROOT, 'bench', 'c');

export interface Programs {
  localThr: string;
  remoteThr: string;
  localLat: string;
  remoteLat: string;
  /** bench/c/launch.c: runs a program with fds 0–3 only, reports its rusage. */
  launch: string;
  rawThr: string;
  setupRate: string;
  scale: string;
  /** LD_PRELOAD library turning the perf tools' zmq_bind into zmq_connect (socketpair runs). */
  bindAsConnect: string;
  /** Environment every benchmark process gets: the patched libzmq first. */
  env: NodeJS.ProcessEnv;
}

const stale = (output: string, inputs: readonly string[]): boolean =>
  !fs.existsSync(output) || inputs.some((input) => fs.statSync(input).mtimeMs > fs.statSync(output).mtimeMs);

async function compile(built: BuildRecord, outDir: string, name: string, kind: 'program' | 'preload', zmq: boolean): Promise<string> {
  const source = path.join(SOURCES, `${name}.c`);
  const output = path.join(outDir, kind === 'preload' ? `${name}.so` : name);
  if (!stale(output, zmq ? [source, built.library] : [source])) return output;
  const libzmq = zmq ? [`-I${built.prefix}/include`, `-L${built.prefix}/lib`, `-Wl,-rpath,${built.prefix}/lib`, '-lzmq'] : [];
  const shared = kind === 'preload' ? ['-shared', '-fPIC'] : [];
  await run(['cc', '-O2', '-Wall', '-Wextra', '-Werror', ...shared, '-o', output, source, ...libzmq], {
    what: `compiling ${relative(source)}`,
    todo: ['The benchmark compiles bench/c/ with the system cc (Debian: gcc, libc6-dev) against the build in build/current.json.'],
  });
  return output;
}

/** Finds the perf tools, compiles bench/c/, and checks that the tools load the patched libzmq. */
export async function preparePrograms(built: BuildRecord): Promise<Programs> {
  const bin = path.join(built.prefix, 'bin');
  const tool = (name: string): string => {
    const file = path.join(bin, name);
    if (!fs.existsSync(file)) {
      fail(`libzmq's perf tool ${name} is not in ${relative(bin)}`, [
        'The build predates WITH_PERF_TOOL=ON (scripts/lib/config.ts): rebuild it, incrementally:',
        `  npm run build -- --base=${built.base} --variant=${built.variant}`,
      ]);
    }
    return file;
  };
  const perf = { localThr: tool('local_thr'), remoteThr: tool('remote_thr'), localLat: tool('local_lat'), remoteLat: tool('remote_lat') };
  // The installed tools have no RUNPATH, and Debian's libzmq5 has the same soname.
  const env = { LD_LIBRARY_PATH: path.join(built.prefix, 'lib') };
  const ldd = await capture(['ldd', perf.localThr], { env });
  const loaded = /^\s*libzmq\.so\.5 => (\S+)/m.exec(ldd)?.[1];
  if (!loaded || fs.realpathSync(loaded) !== built.library) {
    fail(`local_thr would load ${loaded ?? 'no libzmq.so.5'}, not the build under test (${built.library})`, [
      'Check LD_PRELOAD and the loader configuration; the benchmark sets LD_LIBRARY_PATH to the build prefix.',
    ]);
  }

  const outDir = path.join(built.buildDir, 'bench');
  fs.mkdirSync(outDir, { recursive: true });
  return {
    ...perf,
    launch: await compile(built, outDir, 'launch', 'program', false),
    rawThr: await compile(built, outDir, 'raw_thr', 'program', false),
    setupRate: await compile(built, outDir, 'setup_rate', 'program', true),
    scale: await compile(built, outDir, 'scale', 'program', true),
    bindAsConnect: await compile(built, outDir, 'bind_as_connect', 'preload', true),
    env,
  };
}
