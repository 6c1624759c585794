// The hand-made seeds of fuzz/corpus/ (files named seed-*), which
// `npm run fuzz -- --seeds` writes. Inputs that libFuzzer found and
// `--merge` added (named by their SHA-1) are left alone.
import fs from 'node:fs';
import path from 'node:path';
import { BASES, BASE_NAMES, paths } from './config.ts';
import { corpusDir, corpusFiles, type FuzzerName } from './fuzz.ts';
import { relative } from './proc.ts';
import { fail, say } from './ui.ts';

const SCHEMES = ['fd', 'tcp-fd', 'ipc-fd'] as const;

/**
 * test_fd_fuzzer's descriptor kinds, in the order of its `enum kind_t`: the
 * input's first byte is (kind << 1) | bind. Read from the series itself, so
 * that the seeds follow the fuzzer; every base carries the same file.
 */
function fdFuzzerKinds(): string[] {
  for (const base of BASE_NAMES) {
    const dir = path.join(paths.patches, BASES[base].series);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir).sort()) {
      const text = fs.readFileSync(path.join(dir, name), 'utf8');
      if (!text.includes('+++ b/tests/test_fd_fuzzer.cpp')) continue;
      const body = /^\+enum kind_t\n\+\{\n([\s\S]*?)^\+    kinds\n/m.exec(text)?.[1];
      if (body === undefined) fail(`${relative(path.join(dir, name))} adds tests/test_fd_fuzzer.cpp without the enum kind_t this script reads`);
      // Preprocessor lines (#if defined O_PATH) keep their kinds on Linux.
      return [...body.matchAll(/^\+\s+(\w+),$/gm)].map((m) => m[1] ?? '');
    }
  }
  return fail('no patch of patches/ adds tests/test_fd_fuzzer.cpp', ['The seeds of test_fd_fuzzer follow its enum kind_t; check the series.']);
}

/** Endpoints that are fd endpoints only in form: each must fail on every descriptor ('%' is its number). */
const MALFORMED: Readonly<Record<string, string>> = {
  empty: 'fd://',
  'leading-zero': 'fd://0%',
  'plus-sign': 'fd://+%',
  'minus-sign': 'fd://-%',
  space: 'fd:// %',
  'trailing-x': 'fd://%x',
  'trailing-slash': 'fd://%/',
  twice: 'fd://%%',
  'int-max-plus-1': 'fd://2147483648',
  'int-max': 'fd://2147483647',
  'tcp-fd-double-zero': 'tcp-fd://00%',
  'ipc-fd-empty': 'ipc-fd://',
};

/** Raw endpoint strings for libzmq's bind and connect fuzzers, which pass them to zmq_bind / zmq_connect. */
const ENDPOINTS: Readonly<Record<string, string>> = {
  'fd-stdin': 'fd://0',
  'fd-3': 'fd://3',
  'fd-large': 'fd://65535',
  'fd-int-max': 'fd://2147483647',
  'fd-int-max-plus-1': 'fd://2147483648',
  'fd-negative': 'fd://-1',
  'fd-empty': 'fd://',
  'fd-letters': 'fd://abc',
  'fd-leading-zero': 'fd://03',
  'tcp-fd-1': 'tcp-fd://1',
  'ipc-fd-2': 'ipc-fd://2',
  'ipc-fd-empty': 'ipc-fd://',
};

function fdFuzzerSeeds(): Map<string, Buffer> {
  const seeds = new Map<string, Buffer>();
  const kinds = fdFuzzerKinds();
  const input = (kind: number, bind: boolean, endpoint: string): Buffer =>
    Buffer.concat([Buffer.of((kind << 1) | (bind ? 1 : 0)), Buffer.from(endpoint)]);
  for (const [i, kind] of kinds.entries()) {
    for (const bind of [true, false]) {
      for (const scheme of SCHEMES) seeds.set(`seed-${bind ? 'bind' : 'connect'}-${kind}-${scheme}`, input(i, bind, `${scheme}://%`));
    }
  }
  // Malformed numbers on the descriptor each call would take.
  for (const [kind, bind] of [['listening_tcp', true], ['connected_pair', false]] as const) {
    const index = kinds.indexOf(kind);
    if (index < 0) fail(`test_fd_fuzzer has no descriptor kind ${kind} any more; update ${relative(import.meta.filename)}`);
    for (const [name, endpoint] of Object.entries(MALFORMED)) {
      seeds.set(`seed-${bind ? 'bind' : 'connect'}-${kind}-malformed-${name}`, input(index, bind, endpoint));
    }
  }
  return seeds;
}

function endpointSeeds(): Map<string, Buffer> {
  return new Map(Object.entries(ENDPOINTS).map(([name, endpoint]) => [`seed-${name}`, Buffer.from(endpoint)]));
}

const SEEDS: Readonly<Record<FuzzerName, () => Map<string, Buffer>>> = {
  test_fd_fuzzer: fdFuzzerSeeds,
  test_bind_fuzzer: endpointSeeds,
  test_connect_fuzzer: endpointSeeds,
};

/** Rewrites every fuzzer's seed-* files; says what changed. */
export function writeSeeds(): void {
  for (const [fuzzer, make] of Object.entries(SEEDS) as [FuzzerName, () => Map<string, Buffer>][]) {
    const dir = corpusDir(fuzzer);
    fs.mkdirSync(dir, { recursive: true });
    const seeds = make();
    const stale = corpusFiles(fuzzer).filter((f) => path.basename(f).startsWith('seed-') && !seeds.has(path.basename(f)));
    for (const file of stale) fs.rmSync(file);
    let changed = 0;
    for (const [name, data] of seeds) {
      const file = path.join(dir, name);
      if (fs.existsSync(file) && fs.readFileSync(file).equals(data)) continue;
      fs.writeFileSync(file, data);
      changed++;
    }
    say.info(`${relative(dir)}: ${seeds.size} seeds (${changed} written, ${stale.length} stale removed)`);
  }
}
