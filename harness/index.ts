// Typed API over the harness addon (harness/src/addon.cpp). Policy lives here,
// where tests can see it: bounded receives, option names, closing whatever a
// context still owns before terminating it.
import { createRequire } from 'node:module';
import { constants } from 'node:os';

declare const handle: unique symbol;
/** Opaque handles from the addon; a context is not a socket and vice versa. */
type ContextHandle = { readonly [handle]: 'context' };
type SocketHandle = { readonly [handle]: 'socket' };

interface Addon {
  version(): [number, number, number];
  has(capability: string): boolean;
  libraryPath(): string;
  ctxNew(): ContextHandle;
  ctxTerm(ctx: ContextHandle): void;
  socket(ctx: ContextHandle, type: number): SocketHandle;
  close(socket: SocketHandle): void;
  bind(socket: SocketHandle, endpoint: string): void;
  connect(socket: SocketHandle, endpoint: string): void;
  setsockoptInt(socket: SocketHandle, option: number, value: number): void;
  getsockoptInt(socket: SocketHandle, option: number): number;
  getsockoptString(socket: SocketHandle, option: number): string;
  send(socket: SocketHandle, data: Buffer, flags: number): number;
  recv(socket: SocketHandle, flags: number): Buffer;
  poll(socket: SocketHandle, events: number, timeoutMs: number): number;
  socketpair(): [number, number];
  listenTcp(): { fd: number; port: number };
  connectTcp(port: number): number;
  closeFd(fd: number): void;
}

function load(): Addon {
  try {
    // "#addon" (package.json "imports") → build/current/…/zmq_fd_harness.node
    return createRequire(import.meta.url)('#addon') as Addon;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
      throw new Error('the harness addon is not built (build/current/ is missing): run `npm run setup` first', { cause: error });
    }
    throw error;
  }
}

const addon = load();

/** An Error from libzmq or the OS: `code` is the errno name (EBADF, EPROTONOSUPPORT, …). */
export interface ZmqError extends Error {
  code: string;
  errno: number;
  syscall: string;
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

/** Integer socket options the harness knows by name. */
export const IntOptions = {
  LINGER: 17,
  RCVTIMEO: 27,
  SNDTIMEO: 28,
  IMMEDIATE: 39,
} as const;
export type IntOption = keyof typeof IntOptions;

const ZMQ_LAST_ENDPOINT = 32;
const ZMQ_POLLIN = 1;
export const Flags = { DONTWAIT: 1, SNDMORE: 2 } as const;

/** Default bound for recv(): generous, only there so that a broken build cannot hang a test run. */
export const DEFAULT_RECV_TIMEOUT_MS = 5000;

export function version(): { major: number; minor: number; patch: number; text: string } {
  const [major, minor, patch] = addon.version();
  return { major, minor, patch, text: `${major}.${minor}.${patch}` };
}

/** zmq_has(): e.g. "curve", "draft", and "fd" once the zmq-fd series is applied. */
export const has = (capability: string): boolean => addon.has(capability);

/** The libzmq file the dynamic loader mapped (dladdr of zmq_version). */
export const libraryPath = (): string => addon.libraryPath();

export class Socket {
  readonly #handle: SocketHandle;
  #closed = false;
  readonly #owner: Context;

  /** @internal use Context.socket() */
  constructor(owner: Context, type: SocketType) {
    this.#owner = owner;
    this.#handle = addon.socket(owner.handle, SocketTypes[type]);
  }

  bind(endpoint: string): this {
    addon.bind(this.#handle, endpoint);
    return this;
  }

  connect(endpoint: string): this {
    addon.connect(this.#handle, endpoint);
    return this;
  }

  /** ZMQ_LAST_ENDPOINT: the resolved address after bind("tcp://127.0.0.1:*"). */
  get lastEndpoint(): string {
    return addon.getsockoptString(this.#handle, ZMQ_LAST_ENDPOINT);
  }

  setOption(option: IntOption, value: number): this {
    addon.setsockoptInt(this.#handle, IntOptions[option], value);
    return this;
  }

  getOption(option: IntOption): number {
    return addon.getsockoptInt(this.#handle, IntOptions[option]);
  }

  send(data: string | Uint8Array, flags = 0): number {
    const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return addon.send(this.#handle, bytes, flags);
  }

  /**
   * Receives one message part, waiting at most `timeoutMs`. A timeout throws a
   * ZmqError with code EAGAIN, as zmq_recv does when ZMQ_RCVTIMEO expires.
   */
  recv({ timeoutMs = DEFAULT_RECV_TIMEOUT_MS }: { timeoutMs?: number } = {}): Buffer {
    if (!(addon.poll(this.#handle, ZMQ_POLLIN, timeoutMs) & ZMQ_POLLIN)) {
      throw Object.assign(new Error(`no message within ${timeoutMs} ms`), { code: 'EAGAIN', errno: constants.errno.EAGAIN, syscall: 'zmq_poll' });
    }
    return addon.recv(this.#handle, Flags.DONTWAIT);
  }

  recvString(options?: { timeoutMs?: number }): string {
    return this.recv(options).toString();
  }

  /** Closes the socket; `linger` (ms) bounds how long pending messages are kept. */
  close({ linger = 0 }: { linger?: number } = {}): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#owner.forget(this);
    addon.setsockoptInt(this.#handle, IntOptions.LINGER, linger);
    addon.close(this.#handle);
  }
}

export class Context {
  readonly handle: ContextHandle = addon.ctxNew();
  readonly #sockets = new Set<Socket>();

  socket(type: SocketType): Socket {
    const socket = new Socket(this, type);
    this.#sockets.add(socket);
    return socket;
  }

  /** @internal */
  forget(socket: Socket): void {
    this.#sockets.delete(socket);
  }

  /** zmq_ctx_term blocks until every socket is closed: close leftovers first, with linger 0. */
  term(): void {
    for (const socket of [...this.#sockets]) socket.close();
    addon.ctxTerm(this.handle);
  }
}

/** Two connected AF_UNIX stream sockets, e.g. for connect("fd://N"). */
export const socketpair = (): [number, number] => addon.socketpair();

/** A TCP socket listening on 127.0.0.1 (ephemeral port), e.g. for bind("fd://N"). */
export const listenTcp = (): { fd: number; port: number } => addon.listenTcp();

/** A TCP socket connected to 127.0.0.1:port. */
export const connectTcp = (port: number): number => addon.connectTcp(port);

export const closeFd = (fd: number): void => addon.closeFd(fd);
