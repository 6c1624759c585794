// Running external commands: logging, progress and failure messages in one place.
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { $, type Duration, type ProcessOutput } from 'zx';
import { ROOT } from './config.ts';
import { elapsed, fail, say, tail } from './ui.ts';

$.verbose = false;

export interface RunOptions {
  cwd?: string;
  /** Merged over process.env. */
  env?: NodeJS.ProcessEnv;
  /** Append all output to this file (its folder is created). */
  log?: string;
  /** Sees every output line; a returned string is printed (progress). */
  onLine?: (line: string) => string | undefined;
  /** e.g. '20s'; the command is killed after it. */
  timeout?: Duration;
  input?: string;
  /** What the command does, for the failure message. */
  what?: string;
  /** What the user can do when it fails. */
  todo?: readonly string[];
}

/** A tool from this project's node_modules/.bin, whatever the caller's PATH. */
export const localBin = (name: string): string => path.join(ROOT, 'node_modules', '.bin', name);

export const relative = (p: string): string => (p.startsWith(`${ROOT}/`) ? path.relative(ROOT, p) : p);

function eachLine(stream: Readable, fn: (line: string) => void): void {
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    lines.forEach(fn);
  });
  stream.on('end', () => partial && fn(partial));
}

/** Runs a command and returns its result whatever its exit status. */
export async function probe(cmd: readonly string[], opts: RunOptions = {}): Promise<ProcessOutput> {
  let logStream: fs.WriteStream | undefined;
  if (opts.log) {
    fs.mkdirSync(path.dirname(opts.log), { recursive: true });
    logStream = fs.createWriteStream(opts.log, { flags: 'a' });
    logStream.write(`\n$ ${cmd.join(' ')}   (in ${opts.cwd ?? process.cwd()}, ${new Date().toISOString()})\n`);
  }
  const p = $({
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    input: opts.input,
    timeout: opts.timeout,
    nothrow: true,
    quiet: true,
  })`${cmd}`;
  const onLine = opts.onLine;
  if (logStream || onLine) {
    const handle = (line: string): void => {
      logStream?.write(`${line}\n`);
      const shown = onLine?.(line);
      if (shown !== undefined) console.log(shown);
    };
    eachLine(p.stdout, handle);
    eachLine(p.stderr, handle);
  }
  const out = await p;
  if (logStream) await new Promise((resolve) => logStream.end(resolve));
  return out;
}

function why(out: ProcessOutput, timeout?: Duration): string {
  if (out.signal) return `was stopped by ${out.signal}${timeout ? ` (time limit ${timeout})` : ''}`;
  return `failed (exit code ${out.exitCode})`;
}

/** Runs a command; if it fails, stops with the tail of its output and `todo`. */
export async function run(cmd: readonly string[], opts: RunOptions = {}): Promise<ProcessOutput> {
  const out = await probe(cmd, opts);
  if (!out.ok) {
    const log = opts.log ? `\n    full log: ${relative(opts.log)}` : '';
    fail(`${opts.what ?? cmd.join(' ')} ${why(out, opts.timeout)}`, opts.todo ?? [], tail(out.stdall) + log);
  }
  return out;
}

/** stdout of a command that must succeed, trimmed. */
export async function capture(cmd: readonly string[], opts: RunOptions = {}): Promise<string> {
  return (await run(cmd, opts)).stdout.trim();
}

/** Short git queries: stdout, or undefined when git says no. */
export async function gitQuery(cwd: string, ...args: string[]): Promise<string | undefined> {
  if (!fs.existsSync(cwd)) return undefined;
  const out = await probe(['git', ...args], { cwd });
  return out.ok ? out.stdout.trim() : undefined;
}

/**
 * Progress for make-style output: one line each time the `[ NN%]` counter passes
 * another 10%, with time since the step started, so a 2-minute build is not silent.
 */
export function percentProgress(): (line: string) => string | undefined {
  const start = Date.now();
  let next = 10;
  return (line) => {
    const m = /^\[\s*(\d+)%\]/.exec(line);
    if (!m) return undefined;
    const pct = Number(m[1]);
    if (pct < next) return undefined;
    next = Math.floor(pct / 10) * 10 + 10;
    return `    [${String(pct).padStart(3)}%] ${elapsed(start)}`;
  };
}

/** Runs a long step with a heading and its log under `log`; prints how long it took. */
export async function step(title: string, cmd: readonly string[], opts: RunOptions & { log: string }): Promise<ProcessOutput> {
  const start = Date.now();
  say.info(`${title}… (log: ${relative(opts.log)})`);
  const out = await run(cmd, { what: title, ...opts });
  say.info(`${title}: done in ${elapsed(start)}`);
  return out;
}
