// The soaks: one connection after another through fd endpoints, sampling
// every K cycles what must stay flat. Each cycle checks its own outcome (the
// message arrives, the connection opens and ends once, the endpoint and the
// descriptor are gone); the samples check that nothing accumulates.
//
// Live connections are counted two ways, on one v2 monitor (a socket has one
// monitor at a time): the balance of its events (CONNECTED or ACCEPTED minus
// DISCONNECTED), and the draft zmq_socket_monitor_pipes_stats, which answers
// EAGAIN, in the caller's thread, exactly when the socket has no pipe left.
// The balance says every connection ended; the pipes say the socket let go
// of it. Neither needs a time window. The balance is what the soak judges on
// every base; the pipes only where libzmq has upstream's 959a1335 (SEGV
// #4524, after 4.3.5; the 4.3.x series backport it): before it, asking for
// the stats of a pipe whose peer has just finished terminating sends a
// command to a deleted object, and the I/O thread crashes (the soak hit it
// within 50 cycles on 4.3.4).
import fs from 'node:fs';
import path from 'node:path';
import * as zmq from '../harness/index.ts';
import { PIPE_STATS_FIX, VARIANTS } from '../scripts/lib/config.ts';
import { readCurrent } from '../scripts/lib/state.ts';
import { patchSubject } from '../scripts/lib/tree.ts';
import { RSS_SLACK_KIB, SOAKS, type Sample, type SoakName, type SoakResult } from './plan.ts';

const { os } = zmq;

interface Soak {
  readonly ctx: zmq.Context;
  readonly monitor: zmq.MonitorV2;
  cycle(i: number): void;
  /** Terminates the context and removes what the soak made. */
  dispose(): void;
}

/** Whether zmq_socket_monitor_pipes_stats is safe to call while connections end (see above). */
export function pipesCountable(): boolean {
  const v = zmq.version();
  return v.major * 10000 + v.minor * 100 + v.patch > 40305 || readCurrent().patches.some((p) => patchSubject(p) === PIPE_STATS_FIX);
}

const OPEN_EVENTS: readonly zmq.EventV2Name[] = ['CONNECTED', 'ACCEPTED'];
// Everything that marks a connection's start, end or failure: anything else
// between the open and the end of a cycle fails it.
const WATCHED: readonly zmq.EventV2Name[] = [
  ...OPEN_EVENTS,
  'DISCONNECTED',
  'ACCEPT_FAILED',
  'CONNECT_DELAYED',
  'CONNECT_RETRIED',
  'HANDSHAKE_FAILED_NO_DETAIL',
  'HANDSHAKE_FAILED_PROTOCOL',
  'HANDSHAKE_FAILED_AUTH',
  'PIPES_STATS',
];

function expectErrno(what: string, code: string, call: () => void): void {
  try {
    call();
  } catch (error) {
    if (zmq.isZmqError(error) && error.code === code) return;
    throw error;
  }
  throw new Error(`${what}: succeeded, expected ${code}`);
}

/** Connections the monitor saw open and end. */
interface Balance {
  opened: number;
  ended: number;
}

/** One connection's monitor events: an open event with value `fd` (when known), then DISCONNECTED with the same value. */
function expectOneConnection(monitor: zmq.MonitorV2, balance: Balance, open: zmq.EventV2Name, fd?: number): void {
  const opened = monitor.expect(open);
  balance.opened += 1;
  const value = opened.values[0];
  if (fd !== undefined && value !== fd) throw new Error(`${open} carried fd ${value}, expected ${fd}`);
  const ended = monitor.expect('DISCONNECTED');
  balance.ended += 1;
  if (ended.values[0] !== value) throw new Error(`DISCONNECTED carried fd ${ended.values[0]}, expected ${value}`);
}

function pairSoak(balance: Balance): Soak {
  const ctx = new zmq.Context();
  const subject = ctx.socket('DEALER').set('LINGER', 0);
  const monitor = new zmq.MonitorV2(ctx, subject, WATCHED);
  return {
    ctx,
    monitor,
    cycle(i) {
      const [a, b] = os.socketpair();
      const endpoint = `fd://${a}`;
      const id = os.identify(a);
      subject.connect(endpoint);
      const peer = ctx.socket('DEALER').connect(`fd://${b}`);
      peer.send(`cycle ${i}`);
      const got = subject.recvString();
      if (got !== `cycle ${i}`) throw new Error(`received "${got}", expected "cycle ${i}"`);
      // The peer closes: libzmq's reaper closes b, with no further call from
      // the application (zmq_disconnect would wait for the peer socket's next call).
      peer.close();
      expectOneConnection(monitor, balance, 'CONNECTED', a);
      zmq.waitUntil(`libzmq to close fd ${a}`, () => {
        if (!os.stillOpen(id)) return true;
        subject.processCommands();
        return undefined;
      });
      expectErrno(`zmq_disconnect(${endpoint}) once the peer closed`, 'ENOENT', () => subject.disconnect(endpoint));
    },
    dispose: () => ctx.term(),
  };
}

function acceptSoak(balance: Balance): Soak {
  const ctx = new zmq.Context();
  const dir = fs.mkdtempSync(path.join('/tmp', 'zmq-fd-soak-'));
  const tcp = os.listener({ family: 'inet', host: '127.0.0.1', port: 0 });
  const unix = os.listener({ family: 'unix', path: path.join(dir, 'accept.sock'), abstract: false });
  const subject = ctx.socket('PULL').set('LINGER', 0);
  const monitor = new zmq.MonitorV2(ctx, subject, WATCHED);
  subject.bind(`fd://${tcp.fd}`).bind(`fd://${unix.fd}`);
  const endpoints = [`tcp://127.0.0.1:${os.portOf(tcp.address)}`, `ipc://${path.join(dir, 'accept.sock')}`];
  return {
    ctx,
    monitor,
    cycle(i) {
      const endpoint = endpoints[i % 2] ?? '';
      const peer = ctx.socket('PUSH').connect(endpoint);
      peer.send(`cycle ${i}`);
      const got = subject.recvString();
      if (got !== `cycle ${i}`) throw new Error(`received "${got}" over ${endpoint}, expected "cycle ${i}"`);
      peer.close();
      expectOneConnection(monitor, balance, 'ACCEPTED');
    },
    dispose() {
      try {
        ctx.term();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

const MAKERS: Record<SoakName, (balance: Balance) => Soak> = { pair: pairSoak, accept: acceptSoak };

const fdCount = (): number => fs.readdirSync('/proc/self/fd').length - 1; // less readdir's own

/**
 * Runs `cycles` cycles of soak `name`, sampling every `every` cycles (and
 * after the last). A cycle that fails ends the soak with that problem.
 * `onSample` sees each sample as it is taken (progress).
 */
export function runSoak(name: SoakName, cycles: number, every: number, onSample: (s: Sample, r: SoakResult) => void = () => {}): SoakResult {
  const before = fdCount();
  const result: SoakResult = { name, what: SOAKS[name], cycles, every, baselineFds: 0, opened: 0, ended: 0, samples: [], seconds: 0, problems: [] };
  const soak = MAKERS[name](result);
  const countPipes = pipesCountable();
  const started = Date.now();
  const baselineFds = (result.baselineFds = fdCount());

  const sample = (cycle: number): void => {
    // Connections end in libzmq's threads: wait (bounded) for the count to
    // come back, and record whatever it is if it does not.
    let fds = fdCount();
    try {
      zmq.waitUntil('open fds back at the baseline', () => ((fds = fdCount()) === baselineFds ? true : undefined));
    } catch (error) {
      if (!(error instanceof zmq.TimeoutError)) throw error;
    }
    const pipes = countPipes ? soak.monitor.waitNoPipes() : null;
    (globalThis as { gc?: () => void }).gc?.();
    const s: Sample = { cycle, fds, rssKiB: Math.round(process.memoryUsage.rss() / 1024), pipes, live: result.opened - result.ended, ms: Date.now() - started };
    result.samples.push(s);
    if (s.fds !== baselineFds) result.problems.push(`cycle ${cycle}: ${s.fds} open fds, baseline ${baselineFds}`);
    if (s.pipes !== null && s.pipes !== 0) result.problems.push(`cycle ${cycle}: ${s.pipes} pipe(s) left`);
    if (s.live !== 0) result.problems.push(`cycle ${cycle}: ${s.live} connection(s) opened and not ended`);
    onSample(s, result);
  };

  try {
    sample(0);
    for (let i = 1; i <= cycles && result.problems.length === 0; i++) {
      try {
        soak.cycle(i);
      } catch (error) {
        result.problems.push(`cycle ${i}: ${error instanceof Error ? error.message : String(error)}`);
        break;
      }
      if (i % every === 0 || i === cycles) sample(i);
    }
  } finally {
    soak.dispose();
  }
  const first = result.samples[0];
  const last = result.samples.at(-1);
  // A sanitizer's allocator holds freed memory back (ASan's quarantine), so RSS says nothing there.
  const sanitized = VARIANTS[readCurrent().variant].sanitizer !== null;
  if (!sanitized && first && last && last.rssKiB > first.rssKiB + RSS_SLACK_KIB) {
    result.problems.push(`RSS grew from ${first.rssKiB} KiB to ${last.rssKiB} KiB, more than ${RSS_SLACK_KIB} KiB`);
  }
  if (result.opened !== result.samples.at(-1)?.cycle) result.problems.push(`${result.opened} connections seen for ${result.samples.at(-1)?.cycle ?? 0} cycles`);
  const after = fdCount();
  if (after !== before) result.problems.push(`after zmq_ctx_term: ${after} open fds, ${before} before the soak`);
  result.seconds = (Date.now() - started) / 1000;
  return result;
}
