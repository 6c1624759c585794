// The draft v2 monitor (zmq_socket_monitor_versioned), which alone carries
// ZMQ_EVENT_PIPES_STATS: the soak counts a socket's live connections with it.
// A socket has one monitor at a time, so this one reads the ordinary events
// too. v2 events are multipart: event (u64), value count (u64), the values
// (u64 each), local endpoint, remote endpoint.
import { endianness } from 'node:os';
import { addon } from './addon.ts';
import { DEFAULT_TIMEOUT_MS, TimeoutError, remaining, waitUntil } from './wait.ts';
import { EVENTS, recvWithin, type Context, type EventName, type Socket } from './zmq.ts';

const PIPES_STATS = 0x10000;
export type EventV2Name = EventName | 'PIPES_STATS';
const NAMES = new Map<number, EventV2Name>([...Object.entries(EVENTS).map(([name, bit]) => [bit, name as EventName] as const), [PIPES_STATS, 'PIPES_STATS']]);

export interface EventV2 {
  event: EventV2Name;
  values: number[];
  local: string;
  remote: string;
}

let monitors = 0;

export class MonitorV2 {
  readonly #reader: Socket;
  readonly #target: Socket;

  constructor(ctx: Context, target: Socket, events: readonly EventV2Name[]) {
    const endpoint = `inproc://zmq-fd-monitor-v2-${process.pid}-${++monitors}`;
    const mask = events.reduce((m, name) => m + (name === 'PIPES_STATS' ? PIPES_STATS : EVENTS[name]), 0);
    addon.socketMonitorV2(target.handle, endpoint, mask);
    this.#target = target;
    this.#reader = ctx.socket('PAIR').connect(endpoint);
  }

  /** The next event, waiting at most `timeoutMs`; undefined if none came. */
  next(timeoutMs: number): EventV2 | undefined {
    const frames = recvWithin(this.#reader, timeoutMs);
    if (frames === undefined) return undefined;
    const u64 = (b: Buffer | undefined): number => {
      if (b?.length !== 8) throw new Error(`malformed v2 monitor event: a frame of ${b?.length ?? 'no'} bytes where a u64 belongs`);
      return Number(endianness() === 'LE' ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0));
    };
    const bit = u64(frames[0]);
    const count = u64(frames[1]);
    if (frames.length !== 4 + count) throw new Error(`malformed v2 monitor event: ${frames.length} frames for ${count} values`);
    const event = NAMES.get(bit);
    if (event === undefined) throw new Error(`unknown monitor event 0x${bit.toString(16)}`);
    const values = frames.slice(2, 2 + count).map(u64);
    return { event, values, local: String(frames[2 + count]), remote: String(frames[3 + count]) };
  }

  /** The next event, which must be `event`; waits at most `timeoutMs`. */
  expect(event: EventV2Name, timeoutMs = DEFAULT_TIMEOUT_MS): EventV2 {
    const read = this.next(timeoutMs);
    if (read === undefined) throw new TimeoutError(`monitor event ${event}`, timeoutMs);
    if (read.event !== event) throw new Error(`monitor event: expected ${event}, got ${read.event} (${read.values.join(', ')}; ${read.local} ${read.remote})`);
    return read;
  }

  /**
   * Whether the socket has no pipe: zmq_socket_monitor_pipes_stats answers
   * EAGAIN, in this thread, once the socket has processed its commands. A
   * "no" asks each pipe for its stats; those events are dropped here.
   */
  noPipes(): boolean {
    this.#target.processCommands();
    const any = addon.pipesStats(this.#target.handle);
    for (let e = this.next(0); e !== undefined; e = this.next(0)) if (e.event !== 'PIPES_STATS') throw new Error(`unexpected monitor event ${e.event} while counting pipes`);
    return !any;
  }

  /**
   * Waits (bounded) until the socket has no pipe; returns 0, or, if pipes
   * remain, how many answered a last stats request within `settleMs`.
   */
  waitNoPipes(timeoutMs = DEFAULT_TIMEOUT_MS, settleMs = 200): number {
    try {
      waitUntil('the socket to have no pipe', () => (this.noPipes() ? true : undefined), timeoutMs);
      return 0;
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
    }
    this.#target.processCommands();
    if (!addon.pipesStats(this.#target.handle)) return 0;
    const deadline = Date.now() + settleMs;
    let pipes = 0;
    for (let e = this.next(settleMs); e !== undefined; e = this.next(remaining(deadline))) if (e.event === 'PIPES_STATS') pipes += 1;
    return Math.max(pipes, 1);
  }
}
