// Bounded waiting for things that happen in libzmq's own threads. Tests run
// synchronously (native calls block anyway, and fd counting needs nothing else
// to run in between), so waiting means polling in small steps under an overall
// bound: fast when the condition comes quickly, a clear failure when it never does.
import { constants } from 'node:os';

/**
 * Overall bound for anything the harness waits for: only there so that a
 * broken build cannot hang a run. No test waits it out when it passes, so it
 * can be generous enough for a CI host that stalls for seconds.
 */
export const DEFAULT_TIMEOUT_MS = 20_000;

const cell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the calling thread for `ms` milliseconds (nothing ever notifies `cell`). */
export function sleep(ms: number): void {
  Atomics.wait(cell, 0, 0, ms);
}

/** A bounded wait that ran out. Shaped like a ZmqError: a receive that times out says EAGAIN, as zmq_recv does. */
export class TimeoutError extends Error {
  readonly errno: number;
  constructor(
    what: string,
    readonly timeoutMs: number,
    readonly code: 'ETIMEDOUT' | 'EAGAIN' = 'ETIMEDOUT',
    readonly syscall = 'wait',
  ) {
    super(`${what}: not within ${timeoutMs} ms`);
    this.name = 'TimeoutError';
    this.errno = constants.errno[code];
  }
}

/**
 * Calls `probe` until it returns something other than undefined, sleeping 1, 2,
 * 4… up to 20 ms in between, for at most `timeoutMs`; then throws a
 * TimeoutError naming `what`.
 */
export function waitUntil<T>(what: string, probe: () => T | undefined, timeoutMs = DEFAULT_TIMEOUT_MS): T {
  const deadline = Date.now() + timeoutMs;
  for (let step = 1; ; step = Math.min(step * 2, 20)) {
    const value = probe();
    if (value !== undefined) return value;
    const left = deadline - Date.now();
    if (left <= 0) throw new TimeoutError(what, timeoutMs);
    sleep(Math.min(step, left));
  }
}

/** Milliseconds left until `deadline` (a Date.now() value), never negative. */
export const remaining = (deadline: number): number => Math.max(0, deadline - Date.now());
