// Security of fd endpoints (RFC.md section 9): the IPC filters check the
// peers of a listening UNIX socket handed in with ipc-fd://, and ZAP sees the
// real peer of an fd connection. Through the harness, like the matrix, so
// that the peers can be other processes of another user (we run as root, and
// a child drops to nobody with setpriv) and the ZAP handler's thread records
// every request. Declared only when a series was applied: without it,
// ipc-fd:// does not exist and these would fail, not prove anything.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import nodeOs from 'node:os';
import path from 'node:path';
import * as zmq from '../harness/index.ts';
import { nodeChildEnv } from '../scripts/lib/sanitizers.ts';
import { readCurrent } from '../scripts/lib/state.ts';

const built = readCurrent();
const NOBODY = 65534;

function context(t: ExecutionContext): zmq.Context {
  const ctx = new zmq.Context();
  t.teardown(() => ctx.term());
  return ctx;
}

/**
 * A peer in another process: connects to the UNIX socket `file` once told to
 * on stdin, and reports what the other end did first: sent bytes (libzmq's
 * greeting: the connection was accepted), or closed the connection (refused).
 */
const PEER = `
const net = require('node:net');
process.stdin.once('data', () => {
  const c = net.connect(process.argv[1]);
  const done = (what) => { process.stdout.write(what); process.exit(0); };
  c.once('data', () => done('greeting'));
  c.once('end', () => done('closed'));
  c.once('error', (e) => done('error:' + e.code));
  setTimeout(() => done('timeout'), ${zmq.DEFAULT_TIMEOUT_MS}).unref();
});`;

interface Peer {
  pid: number;
  /** Tells the peer to connect; resolves to what it saw. */
  go(): Promise<string>;
}

/** Starts a peer process, as root or as nobody (setpriv drops user, group and supplementary groups). */
function peer(t: ExecutionContext, file: string, as: 'root' | 'nobody'): Peer {
  const node = process.execPath;
  const argv = as === 'root' ? [node] : ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', node];
  // setpriv execs node in the same process, so the pid is the peer's.
  const child = spawn(argv[0] as string, [...argv.slice(1), '-e', PEER, file], { env: nodeChildEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => child.kill());
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`peer (${as}) exited with ${code}: ${err}`))));
  });
  // A test that fails before go () kills the peer at teardown: not a second failure.
  exited.catch(() => undefined);
  if (child.pid === undefined) throw new Error(`cannot start ${argv[0]}`);
  return {
    pid: child.pid,
    go: () => {
      child.stdin.end('go\n');
      return exited;
    },
  };
}

/** A listening UNIX socket on a path that nobody may connect to: the filters are the only check left. */
function openListener(t: ExecutionContext): { fd: number; file: string } {
  const dir = fs.mkdtempSync(path.join(nodeOs.tmpdir(), 'zmq-fd-security-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.chmodSync(dir, 0o755);
  const file = path.join(dir, 'socket');
  const { fd } = zmq.os.listener({ family: 'unix', path: file, abstract: false });
  fs.chmodSync(file, 0o777);
  return { fd, file };
}

type Filter = 'IPC_FILTER_UID' | 'IPC_FILTER_GID' | 'IPC_FILTER_PID';

/**
 * Binds a PAIR socket on ipc-fd://N with `filter` = `value`, then lets one
 * peer of each user connect, one at a time, and checks what each saw and the
 * monitor event of each accept.
 */
async function filtered(
  t: ExecutionContext,
  filter: Filter,
  value: (peers: { root: Peer; nobody: Peer }) => number,
  expected: { root: 'greeting' | 'closed'; nobody: 'greeting' | 'closed' },
): Promise<void> {
  const ctx = context(t);
  const { fd, file } = openListener(t);
  const peers = { root: peer(t, file, 'root'), nobody: peer(t, file, 'nobody') };
  const server = ctx.socket('PAIR').set(filter, value(peers));
  const monitor = server.monitor(['ACCEPTED', 'ACCEPT_FAILED']);
  server.bind(`ipc-fd://${fd}`);
  for (const who of ['nobody', 'root'] as const) {
    t.is(await peers[who].go(), expected[who], `peer of ${who}`);
    const event = monitor.next(zmq.DEFAULT_TIMEOUT_MS);
    t.is(event?.event, expected[who] === 'greeting' ? 'ACCEPTED' : 'ACCEPT_FAILED', `monitor event for the peer of ${who}`);
  }
}


/**
 * A PLAIN handshake between `server` (the fd side) and `client`, through the
 * harness's ZAP handler; returns the address the ZAP request carried and the
 * Peer-Address of a message from the client.
 */
function zapped(t: ExecutionContext, zap: zmq.ZapHandler, server: zmq.Socket, client: zmq.Socket): { zap: string; peerAddress: string | null } {
  client.send('hello');
  const [body, peerAddress] = server.recvWithProperty('Peer-Address');
  t.is(body.toString(), 'hello');
  const decisions = zap.stop();
  t.is(decisions.length, 1, 'one ZAP request');
  t.is(decisions[0]?.status, '200');
  return { zap: decisions[0]?.address ?? '', peerAddress };
}

function plainPair(ctx: zmq.Context): { zap: zmq.ZapHandler; server: zmq.Socket; client: zmq.Socket } {
  const zap = ctx.zap({ plain: { admin: 'secret' }, curve: [] });
  const server = ctx.socket('DEALER').set('PLAIN_SERVER', 1);
  const client = ctx.socket('DEALER').set('PLAIN_USERNAME', 'admin').set('PLAIN_PASSWORD', 'secret');
  return { zap, server, client };
}

// Only root can start a peer of another user. Serial: a peer that exits
// sends SIGCHLD, which would interrupt another test's blocking libzmq call.
const asRoot = process.getuid?.() === 0 ? test.serial : test.serial.skip;

// With --library, declared when that library says it has the fd transport.
if (built.patches.length > 0 || built.external?.hasFd) {
  asRoot('ipc-fd bind, ZMQ_IPC_FILTER_UID root: a peer of nobody is refused, one of root accepted', (t) =>
    filtered(t, 'IPC_FILTER_UID', () => 0, { nobody: 'closed', root: 'greeting' }));

  asRoot('ipc-fd bind, ZMQ_IPC_FILTER_UID nobody: a peer of nobody is accepted, one of root refused', (t) =>
    filtered(t, 'IPC_FILTER_UID', () => NOBODY, { nobody: 'greeting', root: 'closed' }));

  asRoot('ipc-fd bind, ZMQ_IPC_FILTER_GID nogroup: a peer of nobody is accepted, one of root refused', (t) =>
    filtered(t, 'IPC_FILTER_GID', () => NOBODY, { nobody: 'greeting', root: 'closed' }));

  asRoot('ipc-fd bind, ZMQ_IPC_FILTER_PID: only the named process is accepted', (t) =>
    filtered(t, 'IPC_FILTER_PID', (p) => p.nobody.pid, { nobody: 'greeting', root: 'closed' }));

  test.serial('ZAP and Peer-Address see the TCP peer of a tcp-fd bind', (t) => {
    const ctx = context(t);
    const { server, client, zap } = plainPair(ctx);
    const { fd, address } = zmq.os.listener({ family: 'inet', host: '127.0.0.1', port: 0 });
    server.bind(`tcp-fd://${fd}`);
    // From another loopback address than the listener's, so that the peer's cannot be mistaken for it.
    client.connect(`tcp://127.0.0.3:0;127.0.0.1:${zmq.os.portOf(address)}`);
    t.deepEqual(zapped(t, zap, server, client), { zap: '127.0.0.3', peerAddress: '127.0.0.3' });
  });

  test.serial('ZAP and Peer-Address see the TCP peer of a tcp-fd connect', (t) => {
    const ctx = context(t);
    const { server, client, zap } = plainPair(ctx);
    client.bind('tcp://127.0.0.4:*');
    const port = Number(/:(\d+)$/.exec(client.lastEndpoint)?.[1]);
    const fd = zmq.os.socket('inet');
    zmq.os.bind(fd, { family: 'inet', host: '127.0.0.5', port: 0 });
    zmq.os.connect(fd, { family: 'inet', host: '127.0.0.4', port });
    server.connect(`tcp-fd://${fd}`);
    t.deepEqual(zapped(t, zap, server, client), { zap: '127.0.0.4', peerAddress: '127.0.0.4' });
  });

  // What libzmq makes of a UNIX peer: getnameinfo () of its address (glibc
  // says "localhost"), then SO_PEERCRED's ":uid:gid:pid" (this process).
  const me = `localhost:${process.getuid?.()}:${process.getgid?.()}:${process.pid}`;

  test.serial('ZAP and Peer-Address see the UNIX peer of an ipc-fd bind', (t) => {
    const ctx = context(t);
    const { server, client, zap } = plainPair(ctx);
    const { fd, file } = openListener(t);
    server.bind(`ipc-fd://${fd}`);
    client.connect(`ipc://${file}`);
    const seen = zapped(t, zap, server, client);
    t.deepEqual(seen, { zap: me, peerAddress: me });
  });

  test.serial('ZAP and Peer-Address see the UNIX peer of an ipc-fd connect (socketpair)', (t) => {
    const ctx = context(t);
    const { server, client, zap } = plainPair(ctx);
    const [a, b] = zmq.os.socketpair();
    server.connect(`ipc-fd://${a}`);
    client.connect(`ipc-fd://${b}`);
    const seen = zapped(t, zap, server, client);
    t.deepEqual(seen, { zap: me, peerAddress: me });
  });

  test.serial('an adopted descriptor is close-on-exec, one that zmq_bind refused is left as it was', (t) => {
    const ctx = context(t);
    const { fd } = zmq.os.listener({ family: 'inet', host: '127.0.0.1', port: 0 });
    t.false(zmq.os.flags(fd).cloexec, 'the harness makes descriptors without FD_CLOEXEC');
    const refused = t.throws(() => ctx.socket('PAIR').bind(`ipc-fd://${fd}`));
    t.truthy(refused);
    t.false(zmq.os.flags(fd).cloexec, 'a failed zmq_bind does not touch FD_CLOEXEC');
    ctx.socket('PAIR').bind(`tcp-fd://${fd}`);
    t.true(zmq.os.flags(fd).cloexec, 'zmq_bind set FD_CLOEXEC: a program the process executes does not inherit the listener');
  });
}
