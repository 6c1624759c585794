// `npm test -- --library` against Debian's stock libzmq5 (no fd transport):
// the matrix must fail, say why, and still end with "N passed, N failed".
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../scripts/lib/config.ts';
import { NO_FD_TRANSPORT } from '../scripts/lib/library.ts';
import { localBin } from '../scripts/lib/proc.ts';

const STOCK = '/usr/lib/x86_64-linux-gnu/libzmq.so.5';
const stock = fs.existsSync(STOCK) ? fs.realpathSync(STOCK) : undefined;

(stock ? test : test.skip)(`npm test -- --only=matrix --library=${STOCK} fails and says why`, (t) => {
  // The addon is rebuilt against the library, then the whole matrix runs (every cell fails).
  t.timeout(900_000);
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Its reports go aside, not over the outer run's reports/matrix.*.
  env.ZMQ_FD_REPORTS = path.join(ROOT, 'reports', 'library-stock');
  for (const name of ['ZMQ_FD_RECORD', 'ZMQ_FD_ADDON', 'ZMQ_FD_LIBRARY', 'LD_LIBRARY_PATH', 'LD_PRELOAD']) delete env[name];
  const out = spawnSync(localBin('tsx'), ['scripts/test.ts', '--only=matrix', `--library=${STOCK}`], { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const text = `${out.stdout}${out.stderr}`;
  t.is(out.status, 1, text.slice(-2000));
  t.true(text.includes(NO_FD_TRANSPORT), 'the reason is stated');
  t.true(text.includes(`library under test: ${stock} (given as ${STOCK})`), 'the library is named');
  t.regex(text, /zmq_version 4\.\d+\.\d+, zmq_has\("fd"\) false/);
  const last = out.stdout.trimEnd().split('\n').pop() ?? '';
  const m = /^(\d+) passed, (\d+) failed$/.exec(last);
  t.truthy(m, `last line: ${last}`);
  t.true(Number(m?.[2]) > 0, 'the matrix failed');
  t.false(/unexpected failure|Segmentation|Aborted|core dumped/.test(text), 'no crash');
});
