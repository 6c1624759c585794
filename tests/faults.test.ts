// Faults: peers and holders that misbehave around an fd endpoint, each with
// the outcome README.md ("Faults") and RFC.md section 7 document. Every case
// runs on its own context with the matrix's accounting (tests/matrix/
// accounting.ts): no descriptor leaked, none closed twice, every adopted one
// closed by libzmq. Spins are detected by counting events, never by time.
// Faults the matrix or libzmq's tests cover already are listed in README.md,
// not repeated here.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import * as zmq from '../harness/index.ts';
import type { ZmtpFrame } from '../harness/raw.ts';
import { ROOT } from '../scripts/lib/config.ts';
import { nodeChildEnv } from '../scripts/lib/sanitizers.ts';
import { Accounting } from './matrix/accounting.ts';

const { os, raw } = zmq;

/** Runs `body` on a fresh Accounting; the case fails on any problem finish() finds. */
function accounted(t: ExecutionContext, body: (acc: Accounting) => void): void {
  const acc = new Accounting();
  try {
    body(acc);
  } finally {
    t.deepEqual(acc.finish(), [], 'descriptors after zmq_ctx_term');
  }
}

/** A socketpair, both ends tracked: [the end handed to libzmq, the raw peer's end]. */
function pair(acc: Accounting): [number, number] {
  const [a, b] = os.socketpair();
  return [acc.track(a, 'socketpair end for libzmq'), acc.track(b, 'socketpair end of the raw peer')];
}

/** A DEALER connected to fd://a, with its monitor, attached before the connect. */
function connectedDealer(acc: Accounting, a: number): { socket: zmq.Socket; monitor: zmq.Monitor; endpoint: string } {
  const socket = acc.ctx.socket('DEALER');
  const monitor = socket.monitor();
  const endpoint = acc.handIn(socket, 'connect', `fd://${a}`, a);
  return { socket, monitor, endpoint };
}

/** The raw peer's side of a ZMTP 3.0 NULL handshake: its greeting and READY, then libzmq's. */
function rawHandshake(fd: number, socketType = 'DEALER'): void {
  raw.write(fd, Buffer.concat([raw.greeting(), raw.ready(socketType)]));
  readReply(fd);
}

/** libzmq's greeting and READY, as the raw peer reads them. */
function readReply(fd: number): ZmtpFrame {
  const greeting = raw.readBytes(fd, raw.GREETING_SIZE);
  if (greeting.length !== raw.GREETING_SIZE || greeting[0] !== 0xff || greeting[10] !== 3) throw new Error(`not a ZMTP 3 greeting: ${greeting.toString('hex')}`);
  const [ready] = raw.readFrames(fd, 1);
  if (!ready?.command || raw.commandName(ready.body) !== 'READY') throw new Error('libzmq sent no READY');
  return ready;
}

/**
 * The connection ended as RFC.md 7.3 says: DISCONNECTED with fd and endpoint,
 * libzmq closed the fd, the endpoint is gone (ENOENT), and no reconnect.
 */
function expectEnded(t: ExecutionContext, acc: Accounting, s: { socket: zmq.Socket; monitor: zmq.Monitor; endpoint: string }, fd: number): void {
  const ended = s.monitor.waitFor('DISCONNECTED');
  t.like(ended, { value: fd, endpoint: s.endpoint });
  acc.waitClosed([fd], () => s.socket.processCommands());
  const error = t.throws(() => s.socket.disconnect(s.endpoint));
  t.is(zmq.isZmqError(error) ? error.code : String(error), 'ENOENT');
  const never = s.monitor.seen.filter((e) => e.event === 'CONNECT_DELAYED' || e.event === 'CONNECT_RETRIED');
  t.deepEqual(never, [], 'no reconnect');
  t.is(s.monitor.seen.filter((e) => e.event === 'DISCONNECTED').length, 1, 'one DISCONNECTED');
}

const events = (m: zmq.Monitor): string[] => m.seen.map((e) => e.event);

/** Reads monitor events (bounded) until `n` of `event` were seen. */
function waitEvents(m: zmq.Monitor, event: zmq.EventName, n: number): void {
  const deadline = Date.now() + zmq.DEFAULT_TIMEOUT_MS;
  while (m.seen.filter((e) => e.event === event).length < n) {
    if (m.next(Math.max(0, deadline - Date.now())) === undefined) throw new Error(`${n} ${event}: saw ${events(m).join(', ') || 'none'}`);
  }
}

/** How many bytes the raw end reads before end of file (bounded: a TimeoutError if the end never comes). */
function bytesUntilEnd(fd: number): number {
  let total = 0;
  for (let chunk = raw.readSome(fd, 65536, zmq.DEFAULT_TIMEOUT_MS); chunk?.length; chunk = raw.readSome(fd, 65536, zmq.DEFAULT_TIMEOUT_MS)) total += chunk.length;
  return total;
}

// ---- the ZMTP stream one byte per read ---------------------------------------

const BYTE_STREAM = (): Buffer => Buffer.concat([raw.greeting(), raw.ready('DEALER'), raw.message('one', 'byte at a time')]);

test('1-byte reads, connect role: a raw peer writes greeting, READY and a message byte by byte', (t) => {
  accounted(t, (acc) => {
    const [a, b] = pair(acc);
    const s = connectedDealer(acc, a);
    const data = BYTE_STREAM();
    t.is(raw.writeByteByByte(b, a, data), data.length);
    t.deepEqual(s.socket.recvMessage().map(String), ['one', 'byte at a time']);
    s.monitor.waitFor('HANDSHAKE_SUCCEEDED');
    readReply(b);
    s.socket.send('back');
    t.deepEqual(raw.readFrames(b, 1).map((f) => String(f.body)), ['back']);
  });
});

test('1-byte reads, bind role: a raw client writes greeting, READY and a message byte by byte', (t) => {
  accounted(t, (acc) => {
    const listener = os.listener({ family: 'unix', path: acc.scratchPath(), abstract: false });
    acc.track(listener.fd, 'UNIX listener');
    const socket = acc.ctx.socket('DEALER');
    const monitor = socket.monitor();
    acc.handIn(socket, 'bind', `fd://${listener.fd}`, listener.fd);
    const client = acc.track(os.connectTo(listener.address), 'raw client');
    // The accepted connection's number, to see when libzmq has read each byte.
    const accepted = monitor.waitFor('ACCEPTED').value;
    const data = BYTE_STREAM();
    t.is(raw.writeByteByByte(client, accepted, data), data.length);
    t.deepEqual(socket.recvMessage().map(String), ['one', 'byte at a time']);
    readReply(client);
  });
});

// ---- the peer ends the connection ------------------------------------------

/** The peer closes its end early; `prelude`: what it does first (nothing: close at once, `before`: even before zmq_connect). */
const EARLY_CLOSES: { when: string; prelude: 'before' | ((b: number) => void) | undefined }[] = [
  { when: 'before zmq_connect: connected, then ended at once', prelude: 'before' },
  { when: 'right after zmq_connect, before sending a byte', prelude: undefined },
  {
    when: 'during the handshake: half a greeting, then close',
    prelude: (b) => {
      raw.write(b, raw.greeting().subarray(0, 11));
      raw.readBytes(b, 10); // libzmq's signature: its handshake has started
    },
  },
  {
    when: 'after its greeting, before READY',
    prelude: (b) => {
      raw.write(b, raw.greeting());
      raw.readBytes(b, raw.GREETING_SIZE);
    },
  },
];

for (const { when, prelude } of EARLY_CLOSES) {
  test(`peer closes ${when}: the connection ends without a handshake`, (t) => {
    accounted(t, (acc) => {
      const [a, b] = pair(acc);
      if (prelude === 'before') acc.close(b);
      const s = connectedDealer(acc, a);
      if (prelude !== 'before') {
        prelude?.(b);
        acc.close(b);
      }
      expectEnded(t, acc, s, a);
      t.false(events(s.monitor).includes('HANDSHAKE_SUCCEEDED'));
    });
  });
}

// To libzmq, a first byte other than 0xFF is a ZMTP 1.0 peer, which has no
// greeting: it waits for what it takes for an identity frame. Up to 4.3.5
// the handshake timer (ZMQ_HANDSHAKE_IVL) still runs and ends the
// connection; after it (upstream 6cc694d8), a ZMTP 1.0 peer has finished its
// handshake, the timer is cancelled, and the connection lasts until the peer
// closes. Either way nothing is delivered, and the end is an ordinary one.
const ZMTP1_HANDSHAKE_TIMED = ((v) => v.major * 10000 + v.minor * 100 + v.patch <= 40305)(zmq.version());

test(`garbage greeting: an HTTP request; ${ZMTP1_HANDSHAKE_TIMED ? 'the handshake timer ends' : 'the peer\'s close ends'} the connection, nothing is delivered`, (t) => {
  accounted(t, (acc) => {
    const [a, b] = pair(acc);
    const socket = acc.ctx.socket('DEALER').set('HANDSHAKE_IVL', 100);
    const s = { socket, monitor: socket.monitor(), endpoint: acc.handIn(socket, 'connect', `fd://${a}`, a) };
    raw.write(b, Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: zmq-fd-faults\r\nAccept: */*\r\n\r\n'));
    if (ZMTP1_HANDSHAKE_TIMED) {
      t.is(s.monitor.waitFor('HANDSHAKE_FAILED_NO_DETAIL').endpoint, s.endpoint);
      expectEnded(t, acc, s, a);
      t.is(bytesUntilEnd(b), 10, "libzmq's signature, then end of file");
    } else {
      acc.close(b);
      expectEnded(t, acc, s, a);
    }
    t.false(s.socket.readable, 'no message from the garbage');
    t.false(events(s.monitor).includes('HANDSHAKE_SUCCEEDED'));
  });
});

test('garbage greeting: a ZMTP signature with an unknown mechanism fails the handshake', (t) => {
  accounted(t, (acc) => {
    const [a, b] = pair(acc);
    const s = connectedDealer(acc, a);
    raw.write(b, raw.greeting('GARBAGE'));
    const failed = s.monitor.waitFor('HANDSHAKE_FAILED_PROTOCOL');
    t.is(failed.endpoint, s.endpoint);
    expectEnded(t, acc, s, a);
  });
});

test('half-close by the peer (SHUT_WR) after a message: the connection ends, the message is kept', (t) => {
  accounted(t, (acc) => {
    const [a, b] = pair(acc);
    const s = connectedDealer(acc, a);
    rawHandshake(b);
    raw.write(b, raw.message('before the half-close'));
    raw.shutdownWrite(b);
    expectEnded(t, acc, s, a);
    t.is(s.socket.recvString(), 'before the half-close');
    // libzmq closed its end: the peer reads end of file.
    t.is(raw.readSome(b, 1, zmq.DEFAULT_TIMEOUT_MS)?.length, 0);
  });
});

test('half-close by the fd holder (SHUT_WR on a dup): the peer sees end of file, both connections end', (t) => {
  accounted(t, (acc) => {
    const [a, b] = pair(acc);
    const holder = acc.track(os.dup(a), 'dup of the adopted end, kept by another holder');
    const s = connectedDealer(acc, a);
    const peer = acc.ctx.socket('DEALER');
    const peerMonitor = peer.monitor();
    acc.handIn(peer, 'connect', `fd://${b}`, b);
    s.monitor.waitFor('HANDSHAKE_SUCCEEDED');
    peer.send('before');
    t.is(s.socket.recvString(), 'before');
    raw.shutdownWrite(holder);
    // The peer reads end of file and closes b; then the subject reads end of file.
    peerMonitor.waitFor('DISCONNECTED');
    acc.waitClosed([b], () => peer.processCommands());
    expectEnded(t, acc, s, a);
    t.is(peerMonitor.seen.filter((e) => e.event === 'DISCONNECTED').length, 1);
  });
});

test('RST (SO_LINGER 0 close) on a TCP connection after a message: the connection ends, the message is kept', (t) => {
  accounted(t, (acc) => {
    const listener = os.listener({ family: 'inet', host: '127.0.0.1', port: 0 });
    acc.track(listener.fd, 'TCP listener of the test');
    const client = acc.track(os.connectTo(listener.address), 'raw TCP client');
    const conn = acc.track(os.accept(listener.fd), 'connection the test accepted');
    const s = connectedDealer(acc, conn);
    rawHandshake(client);
    raw.write(client, raw.message('before the reset'));
    // libzmq has read the message before the reset arrives.
    zmq.waitUntil('libzmq to read the message', () => (raw.pending(conn) === 0 && s.socket.readable ? true : undefined));
    raw.setResetOnClose(client);
    acc.close(client);
    expectEnded(t, acc, s, conn);
    t.is(s.socket.recvString(), 'before the reset');
  });
});

test('peer vanishes with the send HWM full: the connection ends, queued messages are dropped, zmq_close with infinite linger returns', (t) => {
  accounted(t, (acc) => {
    const [a, b] = pair(acc);
    const socket = acc.ctx.socket('DEALER').set('SNDHWM', 4).set('LINGER', -1);
    const s = { socket, monitor: socket.monitor(), endpoint: acc.handIn(socket, 'connect', `fd://${a}`, a) };
    rawHandshake(b);
    // The raw peer reads no more. Messages larger than the kernel's buffer:
    // the engine stays blocked inside the first, so the pipe, once full,
    // stays full, whatever the timing of the I/O thread.
    const payload = Buffer.alloc(1 << 20, 0x5a);
    let sent = 0;
    for (; sent < 1000; sent++) {
      try {
        socket.send(payload, { timeoutMs: 0 });
      } catch (error) {
        if (zmq.isZmqError(error) && error.code === 'EAGAIN') break;
        throw error;
      }
    }
    t.true(sent >= 4 && sent < 1000, `sent ${sent} before the HWM`);
    zmq.waitUntil('the engine to write into the socket', () => (raw.pending(b) > 0 ? true : undefined));
    acc.close(b);
    expectEnded(t, acc, s, a);
    // RFC.md 7.3: what is left to send can never be delivered, so it is dropped and does not block.
    socket.close({ linger: -1 });
  });
});

// ---- handshakes pending when the application ends ---------------------------

const PENDING = 8;
const SIGNATURE = raw.LIBZMQ_SIGNATURE;

test(`zmq_close (infinite linger) and zmq_ctx_term with ${PENDING} handshakes pending on connected fds`, (t) => {
  accounted(t, (acc) => {
    const socket = acc.ctx.socket('DEALER');
    const monitor = socket.monitor();
    const ends = Array.from({ length: PENDING }, () => pair(acc));
    for (const [a] of ends) acc.handIn(socket, 'connect', `fd://${a}`, a);
    waitEvents(monitor, 'CONNECTED', PENDING);
    // Each engine is running once its peer has read libzmq's signature (10
    // bytes: libzmq waits for the peer's before the rest). CONNECTED alone
    // does not say so: a close that reaches the I/O thread before the engine's
    // first write ends it with nothing written, and the count below would race.
    for (const [, b] of ends) t.deepEqual(raw.readBytes(b, SIGNATURE.length), SIGNATURE);
    socket.close({ linger: -1 });
    acc.ctx.term();
    for (const [a, b] of ends) {
      t.false(os.stillOpen(acc.identity(a)), `fd ${a} closed by zmq_ctx_term`);
      t.is(bytesUntilEnd(b), 0, `the peer of fd ${a} reads end of file, and nothing after the signature`);
    }
  });
});

test(`zmq_close (infinite linger) and zmq_ctx_term with ${PENDING} accepted connections in the handshake`, (t) => {
  accounted(t, (acc) => {
    const listener = os.listener({ family: 'inet', host: '127.0.0.1', port: 0 });
    acc.track(listener.fd, 'TCP listener');
    const socket = acc.ctx.socket('ROUTER');
    const monitor = socket.monitor();
    acc.handIn(socket, 'bind', `fd://${listener.fd}`, listener.fd);
    const clients = Array.from({ length: PENDING }, (_, i) => acc.track(os.connectTo(listener.address), `raw client ${i}`));
    waitEvents(monitor, 'ACCEPTED', PENDING);
    // As above: each engine is running once its client has the signature.
    for (const c of clients) t.deepEqual(raw.readBytes(c, SIGNATURE.length), SIGNATURE);
    socket.close({ linger: -1 });
    acc.ctx.term();
    // Every accepted connection was closed: each client reads end of file.
    for (const c of clients) t.is(bytesUntilEnd(c), 0, `client fd ${c}`);
  });
});

// ---- descriptors and processes ------------------------------------------------

test('fork()+exec after adoption: the program does not inherit the adopted fd (FD_CLOEXEC); a descriptor the application kept is inherited', (t) => {
  accounted(t, (acc) => {
    const [a, b] = pair(acc);
    const listener = os.listener({ family: 'inet', host: '127.0.0.1', port: 0 });
    acc.track(listener.fd, 'TCP listener');
    const s = connectedDealer(acc, a);
    const bound = acc.ctx.socket('PULL');
    acc.handIn(bound, 'bind', `fd://${listener.fd}`, listener.fd);
    acc.expectAdopted(a);
    acc.expectAdopted(listener.fd);
    const inherits = (fd: number): boolean => raw.forkExec(['/bin/sh', '-c', `[ -e /proc/self/fd/${fd} ]`]) === 0;
    t.false(inherits(a), `connected fd ${a}`);
    t.false(inherits(listener.fd), `listening fd ${listener.fd}`);
    // The control: the raw peer's end has no FD_CLOEXEC, so the same probe sees it.
    t.true(inherits(b), `the application's own fd ${b}`);
    t.false(s.socket.closed);
  });
});

// Serial: it waits for the child in the event loop, which the synchronous cases would hold.
test.serial('EMFILE on accept, in a child process with a low RLIMIT_NOFILE: ACCEPT_FAILED a bounded number of times, then the waiting connection is served', async (t) => {
  const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), [path.join(ROOT, 'tests', 'faults', 'emfile-child.ts')], { cwd: ROOT, env: nodeChildEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const line = async (): Promise<string> => {
    const next = await lines.next();
    return next.done ? `(the child ended with exit code ${await exited})` : next.value;
  };
  const ctx = new zmq.Context();
  try {
    const first = await line();
    const port = Number(/^listening (\d+)$/.exec(first)?.[1]);
    t.true(port > 0, first);
    const push = ctx.socket('PUSH').connect(`tcp://127.0.0.1:${port}`);
    push.send('waited in the backlog');
    const last = await line();
    const result = JSON.parse(last.startsWith('{') ? last : '{}') as Partial<{ step: string; received: string; acceptFailed: number; emfile: number; accepted: number }>;
    t.is(result.step, 'done', `the child stopped ${result.step ?? 'without a report'}: ${last}`);
    t.is(result.received, 'waited in the backlog', last);
    t.true((result.emfile ?? 0) >= 1, 'ACCEPT_FAILED with EMFILE was reported');
    t.is(result.emfile, result.acceptFailed, 'every ACCEPT_FAILED said EMFILE');
    // A spinning listener reports thousands; one that pauses 100 ms each time, a few.
    t.true((result.acceptFailed ?? Infinity) <= 50, `${result.acceptFailed} ACCEPT_FAILED`);
    t.is(result.accepted, 1);
  } finally {
    ctx.term();
  }
  t.is(await exited, 0);
});

// ---- the listening socket ------------------------------------------------------

const BACKLOG = 4;

// Connections wait in a full accept queue when libzmq takes the listener: a
// blocking connect() returns once the kernel has queued the connection, so
// the backlog + 1 that Linux queues are all in it before the bind.
for (const family of ['inet', 'unix'] as const) {
  test(`backlog full when bound (${family === 'inet' ? 'TCP' : 'UNIX'}, listen backlog ${BACKLOG}, ${BACKLOG + 1} connections queued): each is accepted and served, no ACCEPT_FAILED`, (t) => {
    accounted(t, (acc) => {
      const address: zmq.os.SockAddr = family === 'inet' ? { family, host: '127.0.0.1', port: 0 } : { family, path: acc.scratchPath(), abstract: false };
      const fd = acc.track(os.socket(family), `listener with backlog ${BACKLOG}`);
      os.bind(fd, address);
      os.listen(fd, BACKLOG);
      const local = os.localAddress(fd);
      const clients = Array.from({ length: BACKLOG + 1 }, (_, i) => acc.track(os.connectTo(local), `raw client ${i}`));
      const socket = acc.ctx.socket('PULL');
      const monitor = socket.monitor();
      acc.handIn(socket, 'bind', `fd://${fd}`, fd);
      for (const c of clients) rawHandshake(c, 'PUSH');
      clients.forEach((c, i) => raw.write(c, raw.message(`client ${i}`)));
      const got = new Set(clients.map(() => socket.recvString()));
      t.deepEqual([...got].sort(), clients.map((_, i) => `client ${i}`).sort());
      for (const c of clients) acc.close(c);
      waitEvents(monitor, 'DISCONNECTED', clients.length);
      t.is(monitor.seen.filter((e) => e.event === 'ACCEPTED').length, clients.length);
      t.is(monitor.seen.filter((e) => e.event === 'ACCEPT_FAILED').length, 0);
    });
  });
}

// A flood while libzmq accepts, on UNIX: a UNIX connect() to a full queue
// fails at once (EAGAIN) and libzmq's connecter retries after
// ZMQ_RECONNECT_IVL, where TCP would wait for SYN retransmissions (1, 3,
// 7… s).
const FLOOD = 32;

test(`backlog flooded while accepting (UNIX, listen backlog 1, ${FLOOD} peers at once): every peer is served, no ACCEPT_FAILED, all connections end`, (t) => {
  accounted(t, (acc) => {
    const fd = acc.track(os.socket('unix'), 'listener with backlog 1');
    const file = acc.scratchPath();
    os.bind(fd, { family: 'unix', path: file, abstract: false });
    os.listen(fd, 1);
    const socket = acc.ctx.socket('PULL');
    const monitor = socket.monitor();
    acc.handIn(socket, 'bind', `fd://${fd}`, fd);
    const peers = Array.from({ length: FLOOD }, () => acc.ctx.socket('PUSH').set('LINGER', 0).connect(`ipc://${file}`));
    peers.forEach((p, i) => p.send(`peer ${i}`));
    const got = new Set(Array.from({ length: FLOOD }, () => socket.recvString()));
    t.is(got.size, FLOOD);
    for (const p of peers) p.close();
    waitEvents(monitor, 'DISCONNECTED', FLOOD);
    t.is(monitor.seen.filter((e) => e.event === 'ACCEPTED').length, FLOOD);
    t.is(monitor.seen.filter((e) => e.event === 'ACCEPT_FAILED').length, 0);
  });
});
