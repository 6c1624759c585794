// The child process of the EMFILE fault (tests/faults.test.ts): lowering
// RLIMIT_NOFILE in the test runner would starve every other test, so this
// process binds fd:// on a TCP listener, fills its descriptor table up to a
// low limit, and reports what the listener did. Protocol on stdout: the line
// "listening <port>"; the parent connects and sends one message; then one
// JSON line with the counts, written also when a step times out or throws, so
// that the parent can say which step failed, why, and what the listener
// reported until then.
import fs from 'node:fs';
import { constants } from 'node:os';
import * as zmq from '../../harness/index.ts';

const { os, raw } = zmq;

const ctx = new zmq.Context();
const listener = os.listener({ family: 'inet', host: '127.0.0.1', port: 0 });
const socket = ctx.socket('PULL');
const monitor = socket.monitor(['ACCEPTED', 'ACCEPT_FAILED']);
socket.bind(`fd://${listener.fd}`);

// Every number below the limit taken: the next accept() fails with EMFILE.
// The limit sits HEADROOM above the highest open number, so that releasing
// the fillers frees at least that many, whatever this process inherited: with
// a dense table (a CI runner passes only 0-2 to the test) the limit at the
// highest open number left no number to fill, so releasing freed nothing.
const HEADROOM = 16;
const limit = Math.max(...os.openFds().keys()) + 1 + HEADROOM;
raw.setNofileLimit(limit);
const fillers: number[] = [];
for (;;) {
  try {
    fillers.push(fs.openSync('/dev/null', 'r'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EMFILE') break;
    throw error;
  }
}
console.log(`listening ${os.portOf(listener.address)}`);

let step = 'waiting for ACCEPT_FAILED';
let received: string | undefined;
let openAfterRelease: number | undefined;
let failure: string | undefined;
try {
  monitor.waitFor('ACCEPT_FAILED', 30_000);
  step = 'releasing the fillers';
  for (const fd of fillers) fs.closeSync(fd);
  openAfterRelease = os.openFds().size;
  step = 'waiting for ACCEPTED once descriptors were released';
  monitor.waitFor('ACCEPTED', 30_000);
  step = 'waiting for the message';
  received = socket.recvString({ timeoutMs: 30_000 });
  step = 'done';
} catch (error) {
  failure = error instanceof Error ? error.message : String(error);
}
// Events are queued in order before the message could be received: read what is there.
while (monitor.next(0) !== undefined);
const failures = monitor.seen.filter((e) => e.event === 'ACCEPT_FAILED');
console.log(
  JSON.stringify({
    step,
    failure,
    received,
    acceptFailed: failures.length,
    emfile: failures.filter((e) => e.value === constants.errno.EMFILE).length,
    errnos: [...new Set(failures.map((e) => e.value))],
    accepted: monitor.seen.filter((e) => e.event === 'ACCEPTED').length,
    limit,
    fillers: fillers.length,
    openAfterRelease,
  }),
);
socket.set('LINGER', 0);
ctx.term();
