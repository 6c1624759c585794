// Loads the Node-API addon (harness/src/addon.cpp) and types its exports. The
// rest of harness/ builds the typed API on these calls; tests never use them
// directly.
import { createRequire } from 'node:module';

declare const handle: unique symbol;
/** Opaque handles from the addon; a context is not a socket, nor a ZAP handler. */
export type ContextHandle = { readonly [handle]: 'context' };
export type SocketHandle = { readonly [handle]: 'socket' };
export type ZapHandle = { readonly [handle]: 'zap' };

/** A socket address as the addon passes it to bind/connect and returns from getsockname. */
export type SockAddr =
  | { family: 'inet' | 'inet6'; host: string; port: number }
  | { family: 'unix'; path: string; abstract: boolean };

/** What the ZAP handler allows; everything else is answered 400. */
export interface ZapPolicy {
  /** PLAIN user name → password. */
  plain: Readonly<Record<string, string>>;
  /** CURVE client public keys, Z85. */
  curve: readonly string[];
}

/** One answer of the ZAP handler. `identity`: the PLAIN user name or the CURVE key (Z85). */
export interface ZapDecision {
  mechanism: string;
  identity: string;
  status: '200' | '400';
  /** The request's address frame: the peer's IP address, or `:uid:gid:pid` over UNIX. */
  address: string;
}

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
  unbind(socket: SocketHandle, endpoint: string): void;
  disconnect(socket: SocketHandle, endpoint: string): void;
  setsockoptInt(socket: SocketHandle, option: number, value: number): void;
  setsockoptBytes(socket: SocketHandle, option: number, value: Buffer): void;
  getsockoptInt(socket: SocketHandle, option: number): number;
  getsockoptBytes(socket: SocketHandle, option: number): Buffer;
  send(socket: SocketHandle, data: Buffer, flags: number): number;
  recv(socket: SocketHandle, flags: number): Buffer;
  poll(socket: SocketHandle, events: number, timeoutMs: number): number;
  socketMonitor(socket: SocketHandle, endpoint: string | null, events: number): void;
  curveKeypair(): { publicKey: string; secretKey: string };
  zapStart(ctx: ContextHandle, policy: ZapPolicy): ZapHandle;
  zapStop(zap: ZapHandle): ZapDecision[];
  recvProperty(socket: SocketHandle, flags: number, name: string): [Buffer, string | null];

  sysConstants: Readonly<Record<SysConstant, number>>;
  sysSocket(domain: number, type: number, protocol: number): number;
  sysSocketpair(type: number): [number, number];
  sysPipe(): [number, number];
  sysSetsockopt(fd: number, level: number, name: number, value: number): void;
  sysBind(fd: number, address: SockAddr): void;
  sysListen(fd: number, backlog: number): void;
  sysConnect(fd: number, address: SockAddr): void;
  sysAccept(fd: number, timeoutMs: number): number;
  sysGetsockname(fd: number): SockAddr | { family: number };
  sysFcntlFlags(fd: number): { status: number; descriptor: number };
  sysOpen(path: string, flags: number): number;
  sysDup(fd: number): number;
  sysDup2(fd: number, to: number): number;
  sysShutdown(fd: number, how: number): void;
  sysClose(fd: number): void;

  // soak and faults
  sysWrite(fd: number, data: Buffer): number;
  sysRead(fd: number, max: number, timeoutMs: number): Buffer;
  sysInq(fd: number): number;
  sysSetLinger(fd: number, on: number, seconds: number): void;
  sysSetNofile(soft: number): void;
  forkExec(argv: readonly string[]): number;
  socketMonitorV2(socket: SocketHandle, endpoint: string, events: number): void;
  pipesStats(socket: SocketHandle): boolean;
}

export type SysConstant =
  | 'AF_INET'
  | 'AF_INET6'
  | 'AF_UNIX'
  | 'AF_VSOCK'
  | 'SOCK_STREAM'
  | 'SOCK_DGRAM'
  | 'SOCK_SEQPACKET'
  | 'SOCK_CLOEXEC'
  | 'SOCK_NONBLOCK'
  | 'SOL_SOCKET'
  | 'SO_REUSEADDR'
  | 'SO_REUSEPORT'
  | 'IPPROTO_IPV6'
  | 'IPPROTO_TCP'
  | 'IPPROTO_MPTCP'
  | 'TCP_USER_TIMEOUT'
  | 'SHUT_RDWR'
  | 'SHUT_RD'
  | 'SHUT_WR'
  | 'O_PATH'
  | 'IPV6_V6ONLY'
  | 'SOMAXCONN'
  | 'O_NONBLOCK'
  | 'FD_CLOEXEC';

function load(): Addon {
  try {
    // "#addon" (package.json "imports") → build/current/…/zmq_fd_harness.node;
    // `npm test -- --library` sets ZMQ_FD_ADDON to the addon built against that library.
    return createRequire(import.meta.url)(process.env.ZMQ_FD_ADDON || '#addon') as Addon;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
      throw new Error('the harness addon is not built (build/current/ is missing): run `npm run setup` first', { cause: error });
    }
    throw error;
  }
}

export const addon = load();
