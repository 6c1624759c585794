// One measurement of each kind: a throughput or latency run of libzmq's perf
// tools (or raw_thr), a connection-rate run, a scale run. Each returns plain
// numbers; repeating, alternating and summarising is the caller's business.
import fs from 'node:fs';
import path from 'node:path';
import * as zmq from '../harness/index.ts';
import type { Plan, ScaleId, SetupId, Size, StreamVariant } from './plan.ts';
import type { Programs } from './programs.ts';
import { ProcessFailure, ProcessHung, cpuUs, reading, start, succeeded, untilListening, type Listening, type Running } from './processes.ts';

const { os } = zmq;

export interface Env {
  programs: Programs;
  plan: Plan;
  /** A private folder for UNIX socket paths. */
  scratch: string;
}

let names = 0;
const socketPath = (env: Env): string => path.join(env.scratch, `${++names}.sock`);

/** A port that was free a moment ago, for a tcp:// bind by another process. */
function freePort(): number {
  const l = os.listener({ family: 'inet', host: '127.0.0.1', port: 0 });
  os.close(l.fd);
  return os.portOf(l.address);
}

interface Side {
  endpoint: string;
  /** A descriptor of ours that becomes the process's fd 3. */
  fd3?: number;
  preload?: string;
}

/** How the perf tools' two processes reach each other: the bind side ("local_*"), the connect side ("remote_*"). */
interface Link {
  local: Side;
  remote: Side;
  /** Where the local side will listen, when it makes the listener itself. */
  listening?: Listening;
  /** Socket files to remove afterwards (libzmq never unlinks a path it did not bind). */
  files: string[];
}

function link(env: Env, variant: StreamVariant): Link {
  switch (variant.id) {
    case 'fd-pair': {
      const [mine, theirs] = os.socketpair();
      return { local: { endpoint: 'fd://3', fd3: mine, preload: env.programs.bindAsConnect }, remote: { endpoint: 'fd://3', fd3: theirs }, files: [] };
    }
    case 'fd-unix': {
      const file = socketPath(env);
      const l = os.listener({ family: 'unix', path: file, abstract: false });
      return { local: { endpoint: 'fd://3', fd3: l.fd }, remote: { endpoint: `ipc://${file}` }, files: [file] };
    }
    case 'fd-tcp': {
      const l = os.listener({ family: 'inet', host: '127.0.0.1', port: 0 });
      return { local: { endpoint: 'fd://3', fd3: l.fd }, remote: { endpoint: `tcp://127.0.0.1:${os.portOf(l.address)}` }, files: [] };
    }
    case 'ipc': {
      const file = socketPath(env);
      return { local: { endpoint: `ipc://${file}` }, remote: { endpoint: `ipc://${file}` }, listening: { kind: 'unix', path: file }, files: [file] };
    }
    case 'tcp': {
      const port = freePort();
      const endpoint = `tcp://127.0.0.1:${port}`;
      return { local: { endpoint }, remote: { endpoint }, listening: { kind: 'tcp', port }, files: [] };
    }
    case 'raw-pair':
    case 'raw-tcp':
      throw new Error(`${variant.id} is raw_thr's, not the perf tools'`);
  }
}

/** Starts one side; our copy of its descriptor is closed at once, so that only the child holds it. */
function startSide(env: Env, program: string, side: Side, args: readonly (string | number)[]): Running {
  try {
    return start(env.programs, [program, side.endpoint, ...args.map(String)], { fd3: side.fd3, preload: side.preload, timeoutMs: env.plan.timeoutMs });
  } finally {
    if (side.fd3 !== undefined) os.close(side.fd3);
  }
}

/** Starts local_* and remote_* over `variant`, and lets `finish` wait for them as that test needs. */
async function perfPair<T>(
  env: Env,
  variant: StreamVariant,
  tools: { local: string; remote: string },
  args: readonly (string | number)[],
  finish: (local: Running, remote: Running) => Promise<T>,
): Promise<T> {
  const l = link(env, variant);
  let remoteFd = l.remote.fd3;
  let local: Running | undefined;
  let remote: Running | undefined;
  try {
    local = startSide(env, tools.local, l.local, args);
    if (l.listening) await untilListening(local, l.listening, env.plan.timeoutMs);
    remoteFd = undefined;
    remote = startSide(env, tools.remote, l.remote, args);
    return await finish(local, remote);
  } catch (error) {
    // The other process of the pair tells as much about a hang as the one that timed out.
    const states = [local, remote].map((p) => p?.snapshot()).filter((x) => x !== undefined);
    local?.stop();
    remote?.stop();
    if (remoteFd !== undefined) os.close(remoteFd);
    if (error instanceof ProcessFailure) {
      const Failure = error instanceof ProcessHung ? ProcessHung : ProcessFailure;
      throw new Failure(`${variant.label}: ${error.message}\nthe pair when it failed:\n${states.join('\n')}`);
    }
    throw error;
  } finally {
    for (const file of l.files) fs.rmSync(file, { force: true });
  }
}

export interface ThroughputRun {
  msgPerS: number;
  /** User + system time of both processes, per message. */
  cpuUsPerMsg: number;
}

export async function throughput(env: Env, variant: StreamVariant, size: Size): Promise<ThroughputRun> {
  const count = env.plan.throughputCount[size];
  if (variant.kind === 'raw') {
    const p = start(env.programs, [env.programs.rawThr, variant.id === 'raw-pair' ? 'pair' : 'tcp', String(size), String(count)], { timeoutMs: env.plan.timeoutMs });
    const done = await succeeded(p);
    return { msgPerS: reading(done.stdout, 'mean throughput', p.command), cpuUsPerMsg: cpuUs(done.cpu) / count };
  }
  return perfPair(env, variant, { local: env.programs.localThr, remote: env.programs.remoteThr }, [size, count], async (local, remote) => {
    const [l, r] = await Promise.all([succeeded(local), succeeded(remote)]);
    return { msgPerS: reading(l.stdout, 'mean throughput', local.command), cpuUsPerMsg: cpuUs(l.cpu, r.cpu) / count };
  });
}

/** One-way latency in µs, as remote_lat reports it (half the mean round trip). */
export async function latency(env: Env, variant: StreamVariant, size: Size): Promise<number> {
  const count = env.plan.latencyCount[size];
  return perfPair(env, variant, { local: env.programs.localLat, remote: env.programs.remoteLat }, [size, count], async (local, remote) => {
    const r = await succeeded(remote);
    // local_lat sleeps a second before it exits; its work is done once remote_lat has every reply.
    local.stop();
    await succeeded(local, [0, 128 + 15]);
    return reading(r.stdout, 'average latency', remote.command);
  });
}

/** Handshaken connections per second (bench/c/setup_rate.c). */
export async function setupRate(env: Env, id: SetupId): Promise<number> {
  const { connections, batch } = env.plan.setup;
  const p = start(env.programs, [env.programs.setupRate, id, String(connections), String(batch), env.scratch], { timeoutMs: env.plan.timeoutMs });
  return reading((await succeeded(p)).stdout, 'connection rate', p.command);
}

export interface ScaleRun {
  /** Until the ROUTER had every peer's first message. */
  setupUs: number;
  /** Growth of the ROUTER process's resident set, per connection. */
  rssKiBPerPeer: number;
  /** One message to every peer and every reply back. */
  roundUs: number;
}

export async function scale(env: Env, id: ScaleId, peers: number): Promise<ScaleRun> {
  const p = start(env.programs, [env.programs.scale, id, String(peers), String(env.plan.scale.rounds), env.scratch], { timeoutMs: env.plan.timeoutMs });
  const out = (await succeeded(p)).stdout;
  const resident = /^resident: (\d+) (\d+)/m.exec(out);
  if (!resident) throw new ProcessFailure(`${p.command}: no "resident:" line in its output\n${out}`);
  return {
    setupUs: reading(out, 'setup', p.command),
    rssKiBPerPeer: (Number(resident[2]) - Number(resident[1])) / peers,
    roundUs: reading(out, 'round', p.command),
  };
}
