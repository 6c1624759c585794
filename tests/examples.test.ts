// The examples of examples/ (RFC.md 1.1's use cases A, A.1, B, B.1, B.2),
// run as a user would: Debian's own python3-zmq (pyzmq), the patched
// libzmq.so.5 through LD_LIBRARY_PATH on the side that hands descriptors in,
// Debian's unpatched libzmq5 on the other side, and the real supervisors
// (systemd-socket-activate, stunnel4). Each test checks what happened (who
// served which request, which library each side ran, that the ended peer's
// endpoint was removed), not exit codes alone. The examples report on stderr
// as JSON lines, which the tests wait for: no test waits a fixed time.
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import nodeOs from 'node:os';
import path from 'node:path';
import { ROOT } from '../scripts/lib/config.ts';
import { nodeChildEnv } from '../scripts/lib/sanitizers.ts';
import { readCurrent } from '../scripts/lib/state.ts';

const built = readCurrent();
/** Debian's python: `python3` on PATH may be another one (a pyenv shim) without python3-zmq. */
const PYTHON = '/usr/bin/python3';
const PATCHED_LIB = path.dirname(fs.realpathSync(built.library));
/** How long any one wait may take before the test fails (a bound, not a delay). */
const WAIT_MS = 20_000;

const example = (name: string): string => path.join(ROOT, 'examples', name);
/** A shipped unit or configuration, with the examples' install path (/usr/local/share/zmq-fd/examples/) made this checkout's. */
const inCheckout = (text: string): string => text.replaceAll('/usr/local/share/zmq-fd/examples/', `${path.join(ROOT, 'examples')}/`);

/** The environment of a stock side: nothing points the loader at the patched libzmq. */
function stockEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...nodeChildEnv(), PYTHONDONTWRITEBYTECODE: '1' }; // no __pycache__ in examples/
  delete env.LD_LIBRARY_PATH;
  delete env.LD_PRELOAD;
  return env;
}
const patchedEnv = (): NodeJS.ProcessEnv => ({ ...stockEnv(), LD_LIBRARY_PATH: PATCHED_LIB });

/** What whoami () in examples/fdzmq.py reports. */
interface Who {
  pid: number;
  lib: string | null;
  has_fd: boolean;
}
type Reply = Who & { request: string };
type Report = Record<string, unknown> & { event?: string };

/** A report line; one that is not JSON becomes a report that no test waits for, and shows in the failure's stderr. */
function parseReport(line: string): Report {
  try {
    return JSON.parse(line) as Report;
  } catch (error) {
    return { event: 'unparsable', line, error: String(error) };
  }
}

/** A running program: its stderr lines, the JSON ones parsed, and waits on them. */
class Program {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly reports: Report[] = [];
  stdout = '';
  readonly exited: Promise<number | null>;
  #waiters: (() => void)[] = [];
  #done = false;

  constructor(t: ExecutionContext, argv: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(argv[0] as string, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(async () => {
      if (!this.#done) this.child.kill('SIGTERM');
      await this.exited;
    });
    this.child.stdout?.on('data', (d: Buffer) => (this.stdout += d.toString()));
    let partial = '';
    this.child.stderr?.on('data', (d: Buffer) => {
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        this.lines.push(line);
        if (line.startsWith('{')) this.reports.push(parseReport(line));
      }
      this.#wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('error', () => resolve(null));
      this.child.once('close', (code) => {
        this.#done = true;
        this.#wake();
        resolve(code);
      });
    });
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  /** Resolves to `find`'s answer once it has one; fails when the program ends first, or after WAIT_MS. */
  async until<T>(what: string, find: () => T | undefined): Promise<T> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (this.#done || Date.now() > deadline) {
        throw new Error(`${this.child.spawnfile}: ${this.#done ? 'ended' : 'timed out'} before ${what}; stderr:\n${this.lines.slice(-20).join('\n')}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()) + 1);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  line(pattern: RegExp): Promise<string> {
    return this.until(`a line matching ${pattern}`, () => this.lines.find((l) => pattern.test(l)));
  }

  /** The first `n` reports with `event`. */
  events(event: string, n = 1): Promise<Report[]> {
    return this.until(`${n} "${event}" report(s)`, () => {
      const found = this.reports.filter((r) => r.event === event);
      return found.length >= n ? found.slice(0, n) : undefined;
    });
  }
}

/** Runs a client to its end; its stdout is one JSON object. */
async function client<T>(t: ExecutionContext, argv: string[]): Promise<T & { client: Who }> {
  const program = new Program(t, [PYTHON, ...argv], stockEnv());
  const code = await program.exited;
  if (code !== 0) throw new Error(`${argv[0]} exited with ${code}:\n${program.lines.join('\n')}`);
  return JSON.parse(program.stdout) as T & { client: Who };
}

const stockClient = (t: ExecutionContext, endpoint: string, ...more: string[]) =>
  client<{ replies: Reply[] }>(t, [example('client.py'), endpoint, ...more]);

/** The client ran Debian's own libzmq, and every reply came from a server on the patched one. */
function onlyServerPatched(t: ExecutionContext, who: Who, replies: Who[]): void {
  t.false(who.has_fd, 'the client has no fd:// endpoints');
  t.regex(who.lib ?? '', /^\/usr\/lib\/.*\/libzmq\.so\.5/, "the client loaded Debian's libzmq5");
  for (const reply of replies) {
    t.true(reply.has_fd, 'the server has fd:// endpoints');
    t.true((reply.lib ?? '').startsWith(`${PATCHED_LIB}/`), `the server loaded the patched libzmq (${reply.lib})`);
  }
}

const requests = (n: number): string[] => Array.from({ length: n }, (_, i) => `hello ${i}`);

function tempDir(t: ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(nodeOs.tmpdir(), 'zmq-fd-examples-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// The kernel gives bind(0) and every outgoing connect() a port of the
// ephemeral range, so a port found by bind(0) and closed can be taken again by
// any connection before the supervisor binds it. Below that range only an
// explicit bind can take it.
const EPHEMERAL_LOW = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
const handedOut = new Set<number>();

/** A TCP port free right now on loopback, below the ephemeral range (for supervisors that must be told one). */
async function freePort(): Promise<number> {
  const low = 10_000;
  if (!(EPHEMERAL_LOW > low + 1000)) throw new Error(`ip_local_port_range starts at ${EPHEMERAL_LOW}: no room below it for the examples' ports`);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = low + Math.floor(Math.random() * (EPHEMERAL_LOW - low));
    if (handedOut.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free TCP port on 127.0.0.1 between ${low} and ${EPHEMERAL_LOW} after 100 tries`);
}

let keys: Promise<{ public: string; secret: string }> | undefined;
/** A CURVE key pair for the servers, made by pyzmq (zmq.curve_keypair ()). */
function curveKeys(t: ExecutionContext): Promise<{ public: string; secret: string }> {
  keys ??= client<{ public: string; secret: string }>(t, [
    '-c',
    'import json, zmq; from fdzmq import whoami; p, s = zmq.curve_keypair(); print(json.dumps({"client": whoami(), "public": p.decode(), "secret": s.decode()}))',
  ]);
  return keys;
}

/** systemd-socket-activate with `flags`, running `argv` with the patched libzmq; resolves once it listens. */
async function activate(t: ExecutionContext, flags: string[], argv: string[]): Promise<Program> {
  const activator = new Program(t, ['systemd-socket-activate', ...flags, '-E', `LD_LIBRARY_PATH=${PATCHED_LIB}`, '-E', 'PYTHONDONTWRITEBYTECODE=1', PYTHON, ...argv], stockEnv());
  await activator.line(/^Listening on /);
  return activator;
}

// pyzmq finds examples/fdzmq.py through the script's folder; `-c` runs need it on PYTHONPATH.
process.env.PYTHONPATH = path.join(ROOT, 'examples');

test('A, socket activation over TCP: activated.py binds fd://3, stock clients connect tcp:// (NULL)', async (t) => {
  const port = await freePort();
  const server = await activate(t, ['-l', `127.0.0.1:${port}`], [example('activated.py')]);
  const { client: who, replies } = await stockClient(t, `tcp://127.0.0.1:${port}`, '--connections', '3');
  t.deepEqual(replies.map((r) => r.request), requests(3));
  // Without --accept, systemd-socket-activate execs the service: LISTEN_PID is its own pid.
  t.deepEqual(replies.map((r) => r.pid), [server.child.pid, server.child.pid, server.child.pid], 'one server, the activated one');
  onlyServerPatched(t, who, replies);
  t.like((await server.events('ready'))[0], { endpoint: 'fd://3' });
});

test('A, socket activation over a UNIX path with CURVE: stock clients connect ipc://', async (t) => {
  const file = path.join(tempDir(t), 'echo.sock');
  const { public: key, secret } = await curveKeys(t);
  const server = await activate(t, ['-l', file], [example('activated.py'), `--curve-secret=${secret}`]);
  const { client: who, replies } = await stockClient(t, `ipc://${file}`, '--connections', '2', `--curve-server=${key}`);
  t.deepEqual(replies.map((r) => r.request), requests(2));
  t.true(replies.every((r) => r.pid === server.child.pid));
  onlyServerPatched(t, who, replies);
});

test('A, LISTEN_PID of another process: activated.py takes no descriptor', async (t) => {
  const server = new Program(t, [PYTHON, example('activated.py')], { ...patchedEnv(), LISTEN_PID: '1', LISTEN_FDS: '1' });
  t.not(await server.exited, 0);
  t.regex(server.lines.join('\n'), /expected one socket from systemd .* got 0/);
});

test('A, the unit pair zmq-fd-echo.socket/.service passes systemd-analyze verify, and its ExecStart serves', async (t) => {
  const units = ['zmq-fd-echo.socket', 'zmq-fd-echo.service'].map(example);
  // --man=no: no man pages looked up; there is no systemd as PID 1 here, and verify needs none.
  const verify = new Program(t, ['systemd-analyze', 'verify', '--man=no', ...units], stockEnv());
  t.is(await verify.exited, 0);
  t.deepEqual(verify.lines.filter((l) => l.trim() !== ''), [], 'no warnings');
  const [socketUnit, serviceUnit] = units.map((u) => inCheckout(fs.readFileSync(u, 'utf8')));
  t.regex(socketUnit ?? '', /^ListenStream=\S+$/m);
  // The unit's command, with the script from this checkout, on a free port instead of ListenStream's.
  const [python, ...argv] = /^ExecStart=(.+)$/m.exec(serviceUnit ?? '')?.[1]?.split(' ') ?? [];
  t.is(python, PYTHON);
  const port = await freePort();
  const server = await activate(t, ['-l', `127.0.0.1:${port}`], argv);
  const { client: who, replies } = await stockClient(t, `tcp://127.0.0.1:${port}`);
  t.deepEqual(replies.map((r) => [r.request, r.pid]), [['hello 0', server.child.pid]]);
  onlyServerPatched(t, who, replies);
});

test('A.1, SO_REUSEPORT: two servers bind tcp-fd://N on one port, 40 stock connections spread over both', async (t) => {
  const first = new Program(t, [PYTHON, example('reuseport.py')], patchedEnv());
  const [ready] = await first.events('ready');
  const port = String(ready?.port);
  const second = new Program(t, [PYTHON, example('reuseport.py'), '--port', port], patchedEnv());
  await second.events('ready');
  const { client: who, replies } = await stockClient(t, `tcp://127.0.0.1:${port}`, '--connections', '40');
  t.deepEqual(replies.map((r) => r.request), requests(40));
  const served = (program: Program): number => replies.filter((r) => r.pid === program.child.pid).length;
  t.true(served(first) > 0, `first server served ${served(first)}`);
  t.true(served(second) > 0, `second server served ${served(second)}`);
  t.is(served(first) + served(second), 40, 'no other server');
  onlyServerPatched(t, who, replies);
  t.log(`served: ${served(first)} + ${served(second)}`);
});

test('B, master and workers over socketpairs: a killed worker is removed, the rest keep serving', async (t) => {
  const master = new Program(t, [PYTHON, example('workers.py'), '--workers', '3'], patchedEnv());
  const [first] = await master.events('round');
  const workers = first?.workers as Record<string, number>;
  const pids = Object.values(workers).sort((a, b) => a - b);
  t.is(pids.length, 3);
  t.deepEqual(first?.served, pids, 'each worker served round 1');
  const [victimEndpoint, victim] = Object.entries(workers)[1] as [string, number];
  process.kill(victim, 'SIGKILL');
  const [removed] = await master.events('removed');
  t.deepEqual(removed, { event: 'removed', endpoint: victimEndpoint, pid: victim, signal: 9, removed: true });
  const [, second] = await master.events('round', 2);
  t.deepEqual(second?.served, pids.filter((p) => p !== victim), 'the other two served round 2');
  t.like((await master.events('done'))[0], { exits: [0, 0] });
  t.is(await master.exited, 0);
});

/** The `peer-gone` reports of `n` one-connection services, checked against the replies they gave. */
async function servicesEnded(t: ExecutionContext, supervisor: Program, replies: Reply[], endpoint: string, dropped: number[]): Promise<void> {
  const gone = await supervisor.events('peer-gone', replies.length);
  t.deepEqual(
    gone.map((g) => g.pid).sort(),
    replies.map((r) => r.pid).sort(),
    'each service saw its peer go',
  );
  for (const g of gone) t.like(g, { endpoint, removed: true, served: 1, dropped_duplicates: dropped });
}

test('B.1, systemd-socket-activate --accept over TCP with CURVE: a service per connection on fd://3', async (t) => {
  const port = await freePort();
  const { public: key, secret } = await curveKeys(t);
  const activator = await activate(t, ['--accept', '-l', `127.0.0.1:${port}`], [example('service.py'), 'fd://3', `--curve-secret=${secret}`]);
  const { client: who, replies } = await stockClient(t, `tcp://127.0.0.1:${port}`, '--connections', '3', `--curve-server=${key}`);
  t.deepEqual(replies.map((r) => r.request), requests(3));
  t.is(new Set(replies.map((r) => r.pid)).size, 3, 'three services');
  t.false(replies.some((r) => r.pid === activator.child.pid));
  onlyServerPatched(t, who, replies);
  await servicesEnded(t, activator, replies, 'fd://3', []);
});

test('B.1, systemd-socket-activate --accept --inetd over a UNIX path: fd://0, the duplicate fd 1 dropped', async (t) => {
  const file = path.join(tempDir(t), 'inetd.sock');
  const activator = await activate(t, ['--accept', '--inetd', '-l', file], [example('service.py'), 'fd://0']);
  const { client: who, replies } = await stockClient(t, `ipc://${file}`, '--connections', '2');
  t.deepEqual(replies.map((r) => r.request), requests(2));
  t.is(new Set(replies.map((r) => r.pid)).size, 2, 'two services');
  onlyServerPatched(t, who, replies);
  await servicesEnded(t, activator, replies, 'fd://0', [1]);
});

test('B.1, an application protocol first: token line, then tcp-fd://N with no byte lost; a wrong token is refused', async (t) => {
  const gate = new Program(t, [PYTHON, example('token_gate.py'), '--token', 's3cret'], patchedEnv());
  const [ready] = await gate.events('ready');
  const server = `127.0.0.1:${String(ready?.port)}`;
  const ok = await client<{ replies?: Reply[]; zmtp_bytes_with_token: number }>(t, [example('token_client.py'), server, 's3cret']);
  // libzmq's signature (10 bytes, 0xFF first) went out in the token line's write: the gate must leave it for libzmq.
  t.true(ok.zmtp_bytes_with_token >= 10, `ZMTP bytes in the token's write: ${ok.zmtp_bytes_with_token}`);
  t.deepEqual(ok.replies?.map((r) => [r.request, r.pid]), [['hello 0', gate.child.pid]]);
  onlyServerPatched(t, ok.client, ok.replies ?? []);
  t.regex(String((await gate.events('accepted'))[0]?.endpoint), /^tcp-fd:\/\/\d+$/);
  const refused = await client<{ refused?: string; by?: string }>(t, [example('token_client.py'), server, 'wrong']);
  t.like(refused, { refused: 'DENIED', by: 'server' });
  t.like((await gate.events('denied'))[0], { token: 'wrong' });
});

/** A shipped stunnel configuration with this test's paths and port in place of the example's. */
function stunnelConf(dir: string, name: string, port: number, pem: string, socketFile: string): string {
  const conf = inCheckout(fs.readFileSync(example(name), 'utf8'))
    .replaceAll('127.0.0.1:5556', `127.0.0.1:${port}`)
    .replaceAll('/etc/zmq-fd/tls.pem', pem)
    .replaceAll('/run/zmq-fd/tls-client.sock', socketFile);
  const file = path.join(dir, name);
  fs.writeFileSync(file, conf);
  return file;
}

test('B.2, stunnel terminates TLS and execs service.py on fd://0; a stock client over ipc:// through stunnel client mode', async (t) => {
  const dir = tempDir(t);
  const pem = path.join(dir, 'tls.pem');
  const openssl = new Program(t, ['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', pem, '-out', `${pem}.crt`, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], stockEnv());
  t.is(await openssl.exited, 0);
  fs.appendFileSync(pem, fs.readFileSync(`${pem}.crt`));
  fs.chmodSync(pem, 0o600);
  const port = await freePort();
  const socketFile = path.join(dir, 'tls-client.sock');
  // stunnel passes its environment to the program it execs: that is how the service gets the patched libzmq.
  const terminator = new Program(t, ['stunnel', stunnelConf(dir, 'stunnel-server.conf', port, pem, socketFile)], patchedEnv());
  const tlsClient = new Program(t, ['stunnel', stunnelConf(dir, 'stunnel-client.conf', port, pem, socketFile)], stockEnv());
  await Promise.all([terminator.line(/Configuration successful/), tlsClient.line(/Configuration successful/)]);
  const { client: who, replies } = await stockClient(t, `ipc://${socketFile}`, '--connections', '2');
  t.deepEqual(replies.map((r) => r.request), requests(2));
  t.is(new Set(replies.map((r) => r.pid)).size, 2, 'a service per TLS connection');
  onlyServerPatched(t, who, replies);
  await tlsClient.line(/Certificate accepted at depth=0: CN=localhost/);
  await servicesEnded(t, terminator, replies, 'fd://0', [1]);
});

/**
 * A service that ends the connection first (service.py --once) under
 * --accept --inetd, and lives on: its stock peer sees the close when the
 * service dropped its duplicate fd 1, and does not while fd 1 holds the
 * connection open (--keep-duplicates, the pitfall), however closed fd 0 is.
 */
async function closesFirst(t: ExecutionContext, serviceFlags: string[], awaitSeconds: number): Promise<{ closed: boolean; report: Report }> {
  const file = path.join(tempDir(t), 'once.sock');
  const activator = await activate(t, ['--accept', '--inetd', '-l', file], [example('service.py'), 'fd://0', '--once', ...serviceFlags]);
  const run = await client<{ replies: Reply[]; closed_by_server: boolean[] }>(t, [example('client.py'), `ipc://${file}`, '--await-close', String(awaitSeconds)]);
  const [report] = await activator.events('closed');
  const pid = Number(report?.pid);
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGTERM'); // it lives on by design; systemd-socket-activate does not stop it
    } catch {
      // gone already
    }
  });
  t.is(run.replies[0]?.pid, pid);
  onlyServerPatched(t, run.client, run.replies);
  return { closed: run.closed_by_server[0] === true, report: report ?? {} };
}

test('B.1, the service closes first: its stock peer sees the close because fd 1 was dropped', async (t) => {
  const { closed, report } = await closesFirst(t, [], 10);
  t.like(report, { fd_closed: true, dropped_duplicates: [1] });
  t.true(closed, 'the client saw DISCONNECTED');
});

test('B.1, the pitfall: with fd 1 kept, libzmq closed fd 0 but the peer sees no close (1 s)', async (t) => {
  const { closed, report } = await closesFirst(t, ['--keep-duplicates'], 1);
  t.like(report, { fd_closed: true, dropped_duplicates: [] });
  t.false(closed, 'the connection stays open through fd 1');
});
