// Smoke tests: the harness loads the libzmq that `npm run setup` built (or the one
// given to `npm test -- --library`), and the
// basic transports work through it. The fd:// tests are declared only when the
// recorded build applied a non-empty series, so an empty series never counts
// them as passed.
import test, { type ExecutionContext } from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as zmq from '../harness/index.ts';
import { readCurrent } from '../scripts/lib/state.ts';

const built = readCurrent();

/** A context that is terminated (closing leftover sockets) when the test ends. */
function context(t: ExecutionContext): zmq.Context {
  const ctx = new zmq.Context();
  t.teardown(() => ctx.term());
  return ctx;
}

/** One message each way between two connected sockets. */
function exchange(t: ExecutionContext, a: zmq.Socket, b: zmq.Socket): void {
  a.send('ping');
  t.is(b.recvString(), 'ping');
  b.send(Buffer.from([0, 1, 2, 255]));
  t.deepEqual([...a.recv()], [0, 1, 2, 255]);
}

test('the loaded libzmq is the one under test', (t) => {
  const loaded = fs.realpathSync(zmq.libraryPath());
  // With --library the prefix only links to the library: compare real paths.
  const expected = built.external ? built.library : fs.realpathSync(built.prefix) + path.sep;
  t.true(
    built.external ? loaded === expected : loaded.startsWith(expected),
    `libzmq was loaded from ${loaded}, not from ${expected}: another libzmq.so.5 ` +
      `(the system's libzmq5, or LD_LIBRARY_PATH=${process.env.LD_LIBRARY_PATH ?? ''}) shadowed it. ` +
      'Unset LD_LIBRARY_PATH, or rerun `npm run setup`.',
  );
  t.is(loaded, built.library);
});

test('zmq_version() is the version of the built base', (t) => {
  t.is(zmq.version().text, built.zmqVersion, `built: libzmq ${built.upstream}`);
});

test('PAIR over tcp://', (t) => {
  const ctx = context(t);
  const server = ctx.socket('PAIR').bind('tcp://127.0.0.1:*');
  const client = ctx.socket('PAIR').connect(server.lastEndpoint);
  exchange(t, server, client);
});

test('PAIR over ipc://', (t) => {
  const file = path.join(os.tmpdir(), `zmq-fd-smoke-${crypto.randomUUID()}.ipc`);
  t.teardown(() => fs.rmSync(file, { force: true }));
  const ctx = context(t);
  const server = ctx.socket('PAIR').bind(`ipc://${file}`);
  const client = ctx.socket('PAIR').connect(`ipc://${file}`);
  exchange(t, server, client);
});

test('errors carry the errno name, number and zmq_strerror text', (t) => {
  const socket = context(t).socket('PAIR');
  const error = t.throws<zmq.ZmqError>(() => socket.bind('no-such-transport://x'), { code: 'EPROTONOSUPPORT' });
  t.is(error?.errno, os.constants.errno.EPROTONOSUPPORT);
  t.is(error?.message, 'Protocol not supported');
  socket.close();
  t.throws(() => socket.connect('tcp://127.0.0.1:1'), { code: 'ENOTSOCK' });
});

test('recv() gives up with EAGAIN instead of blocking', (t) => {
  const socket = context(t).socket('PAIR').bind('tcp://127.0.0.1:*');
  t.throws(() => socket.recv({ timeoutMs: 1 }), { code: 'EAGAIN' });
});

test('os.socketpair() returns two distinct open fds', (t) => {
  const [a, b] = zmq.os.socketpair();
  t.not(a, b);
  t.true(fs.fstatSync(a).isSocket());
  t.true(fs.fstatSync(b).isSocket());
  zmq.os.close(a);
  zmq.os.close(b);
  t.throws(() => fs.fstatSync(a), { code: 'EBADF' });
});

// With --library, declared when that library says it has the fd transport.
if (built.patches.length > 0 || built.external?.hasFd) {
  test('zmq_has("fd") with the zmq-fd series applied', (t) => {
    t.true(zmq.has('fd'), `${built.patches.length} patches are applied, but zmq_has("fd") is false`);
  });

  // A failing bind/connect leaks its fd into this short-lived test process; fine.
  test('bind on fd://N of a listening TCP socket', (t) => {
    const ctx = context(t);
    const { fd, address } = zmq.os.listener({ family: 'inet', host: '127.0.0.1', port: 0 });
    const server = ctx.socket('PAIR').bind(`fd://${fd}`);
    const client = ctx.socket('PAIR').connect(`tcp://127.0.0.1:${zmq.os.portOf(address)}`);
    exchange(t, server, client);
  });

  test('connect over fd://N of a socketpair end', (t) => {
    const ctx = context(t);
    const [a, b] = zmq.os.socketpair();
    const left = ctx.socket('PAIR').connect(`fd://${a}`);
    const right = ctx.socket('PAIR').connect(`fd://${b}`);
    exchange(t, left, right);
  });
}
