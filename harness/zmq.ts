// Typed ZeroMQ API over the addon. Policy lives here, where tests can see it:
// every receive and send is bounded, options are known by name and type,
// monitor events come as objects, and a context closes what it still owns
// before it is terminated.
import { endianness } from 'node:os';
import { addon, type ContextHandle, type SocketHandle, type ZapDecision, type ZapHandle, type ZapPolicy } from './addon.ts';
import { DEFAULT_TIMEOUT_MS, TimeoutError, remaining } from './wait.ts';

export type { ZapDecision, ZapPolicy };

/** An Error from libzmq or the OS: `code` is the errno name (EBADF, EPROTONOSUPPORT, …). */
export interface ZmqError extends Error {
  code: string;
  errno: number;
  syscall: string;
  /** The endpoint of a failed bind, connect, unbind or disconnect. */
  endpoint?: string;
}

export function isZmqError(error: unknown): error is ZmqError {
  return error instanceof Error && typeof (error as Partial<ZmqError>).code === 'string' && typeof (error as Partial<ZmqError>).errno === 'number';
}

// Values from zmq.h; they are part of libzmq's stable ABI.
export const SocketTypes = {
  PAIR: 0,
  PUB: 1,
  SUB: 2,
  REQ: 3,
  REP: 4,
  DEALER: 5,
  ROUTER: 6,
  PULL: 7,
  PUSH: 8,
  XPUB: 9,
  XSUB: 10,
  STREAM: 11,
} as const;
export type SocketType = keyof typeof SocketTypes;

/**
 * Socket options the harness knows, with how their value travels: `int`,
 * `bytes` (binary, e.g. a routing id), or `string` (text; libzmq returns it
 * with a terminating NUL, which get() drops; CURVE keys are set and read as Z85).
 */
const OPTIONS = {
  ROUTING_ID: [5, 'bytes'],
  SUBSCRIBE: [6, 'bytes'],
  RCVMORE: [13, 'int'],
  EVENTS: [15, 'int'],
  LINGER: [17, 'int'],
  SNDHWM: [23, 'int'],
  RECONNECT_IVL: [18, 'int'],
  RCVTIMEO: [27, 'int'],
  SNDTIMEO: [28, 'int'],
  LAST_ENDPOINT: [32, 'string'],
  IMMEDIATE: [39, 'int'],
  IPV6: [42, 'int'],
  PLAIN_SERVER: [44, 'int'],
  PLAIN_USERNAME: [45, 'string'],
  PLAIN_PASSWORD: [46, 'string'],
  CURVE_SERVER: [47, 'int'],
  CURVE_PUBLICKEY: [48, 'string'],
  CURVE_SECRETKEY: [49, 'string'],
  CURVE_SERVERKEY: [50, 'string'],
  ZAP_DOMAIN: [55, 'string'],
  IPC_FILTER_PID: [58, 'int'],
  IPC_FILTER_UID: [59, 'int'],
  IPC_FILTER_GID: [60, 'int'],
  HANDSHAKE_IVL: [66, 'int'],
  TCP_MAXRT: [80, 'int'],
  USE_FD: [89, 'int'],
} as const satisfies Record<string, readonly [number, 'int' | 'bytes' | 'string']>;

export type OptionName = keyof typeof OPTIONS;
type Kind<K extends OptionName> = (typeof OPTIONS)[K][1];
export type OptionValue<K extends OptionName> = Kind<K> extends 'int' ? number : Kind<K> extends 'string' ? string : Uint8Array | string;
export type OptionResult<K extends OptionName> = Kind<K> extends 'int' ? number : Kind<K> extends 'string' ? string : Buffer;

const ZMQ_POLLIN = 1;
const ZMQ_POLLOUT = 2;
const ZMQ_DONTWAIT = 1;
const ZMQ_SNDMORE = 2;

/** Monitor events (zmq.h ZMQ_EVENT_*), all stable since 4.3. */
export const EVENTS = {
  CONNECTED: 0x0001,
  CONNECT_DELAYED: 0x0002,
  CONNECT_RETRIED: 0x0004,
  LISTENING: 0x0008,
  BIND_FAILED: 0x0010,
  ACCEPTED: 0x0020,
  ACCEPT_FAILED: 0x0040,
  CLOSED: 0x0080,
  CLOSE_FAILED: 0x0100,
  DISCONNECTED: 0x0200,
  MONITOR_STOPPED: 0x0400,
  HANDSHAKE_FAILED_NO_DETAIL: 0x0800,
  HANDSHAKE_SUCCEEDED: 0x1000,
  HANDSHAKE_FAILED_PROTOCOL: 0x2000,
  HANDSHAKE_FAILED_AUTH: 0x4000,
} as const;
export type EventName = keyof typeof EVENTS;
const EVENT_NAMES = new Map<number, EventName>(Object.entries(EVENTS).map(([name, bit]) => [bit, name as EventName]));
const ZMQ_EVENT_ALL = 0xffff;

/** zmq.h ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC: the value of HANDSHAKE_FAILED_PROTOCOL when a CURVE box does not open. */
export const PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC = 0x11000001;

export interface MonitorEvent {
  event: EventName;
  value: number;
  endpoint: string;
}

export type Frame = string | Uint8Array;

const toBuffer = (frame: Frame): Buffer =>
  typeof frame === 'string' ? Buffer.from(frame) : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);

export function version(): { major: number; minor: number; patch: number; text: string } {
  const [major, minor, patch] = addon.version();
  return { major, minor, patch, text: `${major}.${minor}.${patch}` };
}

/** zmq_has(): e.g. "curve", "draft", and "fd" once the zmq-fd series is applied. */
export const has = (capability: string): boolean => addon.has(capability);

/** The libzmq file the dynamic loader mapped (dladdr of zmq_version). */
export const libraryPath = (): string => addon.libraryPath();

/** zmq_curve_keypair(), Z85-encoded. */
export const curveKeypair = (): { publicKey: string; secretKey: string } => addon.curveKeypair();

export class Socket {
  readonly #handle: SocketHandle;
  readonly #owner: Context;
  readonly type: SocketType;
  #closed = false;

  /** @internal use Context.socket() */
  constructor(owner: Context, type: SocketType) {
    this.#owner = owner;
    this.type = type;
    this.#handle = addon.socket(owner.handle, SocketTypes[type]);
  }

  /** @internal for Monitor */
  get handle(): SocketHandle {
    return this.#handle;
  }

  bind(endpoint: string): this {
    return this.#endpointCall(addon.bind, endpoint);
  }

  connect(endpoint: string): this {
    return this.#endpointCall(addon.connect, endpoint);
  }

  unbind(endpoint: string): this {
    return this.#endpointCall(addon.unbind, endpoint);
  }

  disconnect(endpoint: string): this {
    return this.#endpointCall(addon.disconnect, endpoint);
  }

  #endpointCall(call: (socket: SocketHandle, endpoint: string) => void, endpoint: string): this {
    try {
      call(this.#handle, endpoint);
    } catch (error) {
      if (isZmqError(error)) error.endpoint = endpoint;
      throw error;
    }
    return this;
  }

  set<K extends OptionName>(name: K, value: OptionValue<K>): this {
    const [id, kind] = OPTIONS[name];
    if (kind === 'int') addon.setsockoptInt(this.#handle, id, value as number);
    else addon.setsockoptBytes(this.#handle, id, toBuffer(value as Frame));
    return this;
  }

  get<K extends OptionName>(name: K): OptionResult<K> {
    const [id, kind] = OPTIONS[name];
    if (kind === 'int') return addon.getsockoptInt(this.#handle, id) as OptionResult<K>;
    const bytes = addon.getsockoptBytes(this.#handle, id);
    return (kind === 'string' ? bytes.toString('utf8').replace(/\0$/, '') : bytes) as OptionResult<K>;
  }

  /** ZMQ_LAST_ENDPOINT: the resolved address after bind("tcp://127.0.0.1:*"), or an fd endpoint as given. */
  get lastEndpoint(): string {
    return this.get('LAST_ENDPOINT');
  }

  /**
   * Any call makes the socket process the commands its I/O threads sent it;
   * reading ZMQ_EVENTS is the cheapest. libzmq finishes some work (closing a
   * disconnected descriptor, removing an ended endpoint) only after that.
   */
  processCommands(): void {
    this.get('EVENTS');
  }

  #wait(events: number, timeoutMs: number, what: string): void {
    // A signal (SIGCHLD, when a test runs a child process) interrupts zmq_poll: poll again for the rest of the time.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if (addon.poll(this.#handle, events, remaining(deadline)) & events) return;
        break;
      } catch (error) {
        if (!isZmqError(error) || error.code !== 'EINTR') throw error;
      }
    }
    throw new TimeoutError(`${this.type} socket: ${what}`, timeoutMs, 'EAGAIN', 'zmq_poll');
  }

  /**
   * Sends one message (a frame, or the frames of a multipart message), waiting
   * at most `timeoutMs` for the socket to accept it; a timeout throws a
   * ZmqError with code EAGAIN. Once the first frame is accepted the rest are
   * too: multipart messages are atomic.
   */
  send(message: Frame | readonly Frame[], { timeoutMs = DEFAULT_TIMEOUT_MS }: { timeoutMs?: number } = {}): void {
    const frames = Array.isArray(message) ? (message as readonly Frame[]) : [message as Frame];
    this.#wait(ZMQ_POLLOUT, timeoutMs, 'cannot send');
    frames.forEach((frame, i) => addon.send(this.#handle, toBuffer(frame), ZMQ_DONTWAIT | (i < frames.length - 1 ? ZMQ_SNDMORE : 0)));
  }

  /**
   * Receives one frame, waiting at most `timeoutMs`. A timeout throws a
   * ZmqError with code EAGAIN, as zmq_recv does when ZMQ_RCVTIMEO expires.
   */
  recv({ timeoutMs = DEFAULT_TIMEOUT_MS }: { timeoutMs?: number } = {}): Buffer {
    this.#wait(ZMQ_POLLIN, timeoutMs, 'no message');
    return addon.recv(this.#handle, ZMQ_DONTWAIT);
  }

  recvString(options?: { timeoutMs?: number }): string {
    return this.recv(options).toString();
  }

  /** Receives all frames of one message, waiting at most `timeoutMs` for the first. */
  recvMessage(options?: { timeoutMs?: number }): Buffer[] {
    const frames = [this.recv(options)];
    while (this.get('RCVMORE')) frames.push(addon.recv(this.#handle, ZMQ_DONTWAIT));
    return frames;
  }

  /**
   * Receives one frame with the value of one of its properties (zmq_msg_gets),
   * e.g. `Peer-Address`; null when it has none. Waits as recv() does.
   */
  recvWithProperty(name: string, { timeoutMs = DEFAULT_TIMEOUT_MS }: { timeoutMs?: number } = {}): [Buffer, string | null] {
    this.#wait(ZMQ_POLLIN, timeoutMs, 'no message');
    return addon.recvProperty(this.#handle, ZMQ_DONTWAIT, name);
  }

  /** Whether a message is waiting, without waiting for one. */
  get readable(): boolean {
    return (addon.poll(this.#handle, ZMQ_POLLIN, 0) & ZMQ_POLLIN) !== 0;
  }

  /** Monitors this socket's events (all of them unless `events` says otherwise). */
  monitor(events: readonly EventName[] = []): Monitor {
    return new Monitor(this.#owner, this, events.reduce((mask, name) => mask | EVENTS[name], 0) || ZMQ_EVENT_ALL);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the socket; `linger` (ms) bounds how long pending messages are kept. */
  close({ linger = 0 }: { linger?: number } = {}): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#owner.forget(this);
    addon.setsockoptInt(this.#handle, OPTIONS.LINGER[0], linger);
    addon.close(this.#handle);
  }
}

let monitors = 0;

/** @internal One message's frames, or undefined if none came within `timeoutMs` (monitor readers). */
export function recvWithin(reader: Socket, timeoutMs: number): Buffer[] | undefined {
  try {
    return reader.recvMessage({ timeoutMs });
  } catch (error) {
    if (error instanceof TimeoutError) return undefined;
    throw error;
  }
}

/**
 * zmq_socket_monitor() on an inproc address, read by a PAIR socket connected
 * before anything happens on the monitored socket (libzmq drops events that
 * no reader is connected for). Events are the 2-frame v1 format: 16-bit event
 * and 32-bit value in host order, then the endpoint.
 */
export class Monitor {
  /** Every event read so far, in order. */
  readonly seen: MonitorEvent[] = [];
  readonly #reader: Socket;

  /** @internal use Socket.monitor() */
  constructor(owner: Context, target: Socket, mask: number) {
    const endpoint = `inproc://zmq-fd-monitor-${process.pid}-${++monitors}`;
    addon.socketMonitor(target.handle, endpoint, mask);
    this.#reader = owner.socket('PAIR').connect(endpoint);
  }

  /** Reads the next event, waiting at most `timeoutMs`; undefined if none came. */
  next(timeoutMs: number): MonitorEvent | undefined {
    const frames = recvWithin(this.#reader, timeoutMs);
    if (frames === undefined) return undefined;
    const [head, endpoint] = frames;
    if (frames.length !== 2 || head?.length !== 6 || endpoint === undefined) throw new Error(`malformed monitor event: ${frames.length} frames`);
    const le = endianness() === 'LE';
    const bit = le ? head.readUInt16LE(0) : head.readUInt16BE(0);
    const event = EVENT_NAMES.get(bit);
    if (event === undefined) throw new Error(`unknown monitor event 0x${bit.toString(16)}`);
    const read = { event, value: le ? head.readUInt32LE(2) : head.readUInt32BE(2), endpoint: endpoint.toString() };
    this.seen.push(read);
    return read;
  }

  /**
   * The first event named `event` (among those seen already, else read now),
   * waiting at most `timeoutMs`; the TimeoutError lists what was seen.
   */
  waitFor(event: EventName, timeoutMs = DEFAULT_TIMEOUT_MS): MonitorEvent {
    const deadline = Date.now() + timeoutMs;
    for (let found = this.seen.find((e) => e.event === event); ; ) {
      if (found) return found;
      const read = this.next(remaining(deadline));
      if (read === undefined) {
        throw new TimeoutError(`monitor event ${event} (seen: ${this.seen.map((e) => e.event).join(', ') || 'none'})`, timeoutMs);
      }
      if (read.event === event) found = read;
    }
  }

  /** Reads whatever arrives during `windowMs` (to show that something does not happen). */
  drain(windowMs: number): MonitorEvent[] {
    const deadline = Date.now() + windowMs;
    const read: MonitorEvent[] = [];
    for (let e = this.next(windowMs); e !== undefined; e = this.next(remaining(deadline))) read.push(e);
    return read;
  }
}

/**
 * A ZAP handler (RFC 27) for one context, answering from a native thread:
 * libzmq asks it from an I/O thread while this (the only JS) thread may be
 * blocked in zmq_poll waiting for the outcome, so it cannot be served from JS.
 * What it allows is this table, passed in from TS; everything else gets 400.
 */
export class ZapHandler {
  readonly #handle: ZapHandle;
  #decisions: ZapDecision[] | undefined;

  /** @internal use Context.zap() */
  constructor(ctx: Context, readonly policy: ZapPolicy) {
    this.#handle = addon.zapStart(ctx.handle, policy);
  }

  /** Stops the handler (once) and returns every decision it made, in order. */
  stop(): ZapDecision[] {
    this.#decisions ??= addon.zapStop(this.#handle);
    return this.#decisions;
  }
}

export class Context {
  readonly handle: ContextHandle = addon.ctxNew();
  readonly #sockets = new Set<Socket>();
  readonly #zaps: ZapHandler[] = [];
  #terminated = false;

  socket(type: SocketType): Socket {
    const socket = new Socket(this, type);
    this.#sockets.add(socket);
    return socket;
  }

  /** Starts this context's ZAP handler; it is bound when this returns. */
  zap(policy: ZapPolicy): ZapHandler {
    const handler = new ZapHandler(this, policy);
    this.#zaps.push(handler);
    return handler;
  }

  /** @internal */
  forget(socket: Socket): void {
    this.#sockets.delete(socket);
  }

  get terminated(): boolean {
    return this.#terminated;
  }

  /**
   * zmq_ctx_term blocks until every socket is closed: stop the ZAP handler and
   * close leftover sockets (linger 0) first. Terminating twice is a no-op.
   */
  term(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    for (const zap of this.#zaps) zap.stop();
    for (const socket of [...this.#sockets]) socket.close();
    // A signal (SIGCHLD, when a test runs child processes) interrupts it with
    // EINTR, and zmq_ctx_term(3) says to call it again.
    for (;;) {
      try {
        addon.ctxTerm(this.handle);
        return;
      } catch (error) {
        if (!isZmqError(error) || error.code !== 'EINTR') throw error;
      }
    }
  }
}
