// Starting benchmark processes through bench/c/launch.c: a descriptor of this
// process becomes the child's fd 3 (Node passes it in the stdio array), and
// what the child cost comes back from the launcher's rusage line.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tail } from '../scripts/lib/ui.ts';
import type { Programs } from './programs.ts';

export interface Cpu {
  userUs: number;
  systemUs: number;
}

export interface Finished {
  /** The program's own output. */
  stdout: string;
  stderr: string;
  /** The launcher's exit status: the program's, or 128 + the signal that ended it. */
  code: number;
  cpu: Cpu;
}

export interface Running {
  readonly command: string;
  /** What the program's threads are doing and which descriptors it holds, for a report on a hang. */
  snapshot(): string;
  readonly finished: Promise<Finished>;
  /** Whether the launcher has exited. */
  exited(): boolean;
  /** SIGTERM, which the launcher passes on to the program. */
  stop(): void;
}

/** A benchmark process that failed, with everything needed to see why. */
export class ProcessFailure extends Error {
  override name = 'ProcessFailure';
}

/** A process that was still running at its time limit: stopped, and worth a second try. */
export class ProcessHung extends ProcessFailure {
  override name = 'ProcessHung';
}

const readOr = (file: string, fallback: string): string => {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return fallback;
  }
};

/** The program the launcher `pid` runs: its only child. */
const programOf = (pid: number): number | undefined => Number(readOr(`/proc/${pid}/task/${pid}/children`, '').split(' ')[0]) || undefined;

/** Per thread: name, state, and the system call it is in (number and first arguments); then its descriptors. */
function describeProcess(pid: number): string {
  const lines: string[] = [];
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const stat = readOr(`/proc/${pid}/task/${tid}/stat`, '');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '?';
    const syscall = readOr(`/proc/${pid}/task/${tid}/syscall`, '?').split(' ').slice(0, 3).join(' ');
    lines.push(`    thread ${tid} ${readOr(`/proc/${pid}/task/${tid}/comm`, '?')}: state ${state}, syscall ${syscall}`);
  }
  const fds = fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return `${fd}→${fs.readlinkSync(`/proc/${pid}/fd/${fd}`)}`;
    } catch {
      return `${fd}→?`;
    }
  });
  const io = readOr(`/proc/${pid}/io`, '').split('\n').filter((l) => /^(rchar|wchar):/.test(l)).join(', ');
  return [...lines, `    fds: ${fds.join(' ')}`, `    bytes through read/write calls: ${io || 'unknown'}`].join('\n');
}

const RUSAGE = /^zmq-fd-bench rusage (\d+) (\d+) (\d+)\n?/m;

export interface StartOptions {
  /** Becomes the child's fd 3; this process keeps its own copy (close it after start). */
  fd3?: number;
  /** Shared object to LD_PRELOAD into the program. */
  preload?: string;
  timeoutMs: number;
}

export function start(programs: Programs, argv: readonly string[], options: StartOptions): Running {
  const command = [path.basename(argv[0] ?? ''), ...argv.slice(1)].join(' ');
  const env = { ...process.env, ...programs.env, ...(options.preload ? { LD_PRELOAD: options.preload } : {}) };
  const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'pipe', 'pipe'];
  if (options.fd3 !== undefined) stdio.push(options.fd3);
  const child = spawn(programs.launch, argv, { stdio, env });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let exited = false;
  let status = '';
  const snapshot = (): string => {
    const program = child.pid === undefined ? undefined : programOf(child.pid);
    const ended = `  ${command}: exited${status}\n${tail(stdout + stderr, 5)}`;
    if (exited || program === undefined) return ended;
    try {
      return `  ${command} (pid ${program}):\n${describeProcess(program)}`;
    } catch {
      return ended;
    }
  };
  let hung: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const finished = new Promise<Finished>((resolve, reject) => {
    timer = setTimeout(() => {
      hung = snapshot();
      // The launcher passes SIGTERM on; SIGKILL would orphan the program.
      child.kill('SIGTERM');
    }, options.timeoutMs);
    child.on('error', (error) => reject(new ProcessFailure(`${command}: cannot start ${programs.launch}: ${error.message}`)));
    child.on('close', (code, signal) => {
      exited = true;
      status = ` with status ${code ?? signal}`;
      clearTimeout(timer);
      if (hung !== undefined) {
        reject(new ProcessHung(`${command}: still running after ${options.timeoutMs / 1000} s, stopped\n${hung}\n${tail(stdout + stderr)}`));
        return;
      }
      const usage = RUSAGE.exec(stderr);
      if (!usage) {
        reject(new ProcessFailure(`${command}: the launcher reported no rusage (exit ${code ?? signal})\n${tail(stdout + stderr)}`));
        return;
      }
      resolve({
        stdout,
        stderr: stderr.replace(RUSAGE, ''),
        code: code ?? 128,
        cpu: { userUs: Number(usage[1]), systemUs: Number(usage[2]) },
      });
    });
  });
  // A failure is reported by whoever awaits `finished`; until then it must not count as unhandled.
  finished.catch(() => {});
  return { command, snapshot, finished, exited: () => exited, stop: () => void child.kill('SIGTERM') };
}

/** Waits for a process and requires exit status 0 (or one of `accept`). */
export async function succeeded(p: Running, accept: readonly number[] = [0]): Promise<Finished> {
  const done = await p.finished;
  if (!accept.includes(done.code)) {
    throw new ProcessFailure(`${p.command}: exit status ${done.code}\n${tail(done.stdout + done.stderr)}`);
  }
  return done;
}

/** The number after `label:` in a program's output, as libzmq's perf tools print it ("mean throughput: 123 [msg/s]"). */
export function reading(output: string, label: string, command: string): number {
  const m = new RegExp(`^${label}: ([\\d.]+)`, 'm').exec(output);
  if (!m) throw new ProcessFailure(`${command}: no "${label}:" line in its output\n${tail(output)}`);
  return Number(m[1]);
}

export const cpuUs = (...cpus: Cpu[]): number => cpus.reduce((sum, c) => sum + c.userUs + c.systemUs, 0);

export type Listening = { kind: 'unix'; path: string } | { kind: 'tcp'; port: number };

/** Whether a socket listens there, from /proc/net (no connection made, so the server sees nothing). */
function listening(where: Listening): boolean {
  if (where.kind === 'unix') {
    // Flags 00010000 is __SO_ACCEPTCON; the path is the last column.
    return fs
      .readFileSync('/proc/net/unix', 'utf8')
      .split('\n')
      .some((line) => {
        const cols = line.trim().split(/\s+/);
        return cols[3] === '00010000' && cols[7] === where.path;
      });
  }
  const port = where.port.toString(16).toUpperCase().padStart(4, '0');
  // State 0A is TCP_LISTEN; local_address is HEXIP:HEXPORT.
  return fs
    .readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((line) => {
      const cols = line.trim().split(/\s+/);
      return cols[1]?.endsWith(`:${port}`) === true && cols[3] === '0A';
    });
}

/**
 * Waits until `server` listens at `where`, so that its peer's first connect
 * succeeds: otherwise libzmq retries after its 100 ms reconnect interval,
 * which remote_lat would count as latency.
 */
export async function untilListening(server: Running, where: Listening, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!listening(where)) {
    if (server.exited()) {
      const done = await server.finished;
      throw new ProcessFailure(`${server.command}: exited (status ${done.code}) before it listened\n${tail(done.stdout + done.stderr)}`);
    }
    if (Date.now() > deadline) throw new ProcessFailure(`${server.command}: not listening after ${timeoutMs / 1000} s`);
    await sleep(2);
  }
}
