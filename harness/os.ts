// Descriptors from the OS, for handing to fd:// endpoints: sockets of every
// family and type the matrix needs, pipes, flags, and the process's open fds.
// The addon makes one system call per function; choices are made here.
import fs from 'node:fs';
import { addon, type SockAddr } from './addon.ts';
import { DEFAULT_TIMEOUT_MS } from './wait.ts';

export type { SockAddr };

const C = addon.sysConstants;

export type Domain = 'inet' | 'inet6' | 'unix' | 'vsock';
export type SocketKind = 'stream' | 'dgram' | 'seqpacket';
/** `default`: the family's own protocol (TCP for a stream socket of AF_INET); `mptcp`: Multipath TCP (Linux). */
export type Protocol = 'default' | 'mptcp';

const DOMAINS: Record<Domain, number> = { inet: C.AF_INET, inet6: C.AF_INET6, unix: C.AF_UNIX, vsock: C.AF_VSOCK };
const KINDS: Record<SocketKind, number> = { stream: C.SOCK_STREAM, dgram: C.SOCK_DGRAM, seqpacket: C.SOCK_SEQPACKET };
const PROTOCOLS: Record<Protocol, number> = { default: 0, mptcp: C.IPPROTO_MPTCP };

// Descriptors are made blocking and without FD_CLOEXEC on purpose: RFC.md
// section 6 has libzmq set O_NONBLOCK and FD_CLOEXEC on a descriptor it adopts,
// and leave one it refuses exactly as it was. Both only show on a descriptor
// that has neither flag to begin with.

export const socket = (domain: Domain, kind: SocketKind = 'stream', protocol: Protocol = 'default'): number =>
  addon.sysSocket(DOMAINS[domain], KINDS[kind], PROTOCOLS[protocol]);

/** Two connected AF_UNIX sockets. */
export const socketpair = (kind: SocketKind = 'stream'): [number, number] => addon.sysSocketpair(KINDS[kind]);

/** [read end, write end]. */
export const pipe = (): [number, number] => addon.sysPipe();

export const bind = (fd: number, address: SockAddr): void => addon.sysBind(fd, address);

export const listen = (fd: number, backlog = C.SOMAXCONN): void => addon.sysListen(fd, backlog);

export const connect = (fd: number, address: SockAddr): void => addon.sysConnect(fd, address);

/** accept(), waiting at most `timeoutMs` for a connection (ETIMEDOUT after). */
export const accept = (fd: number, timeoutMs = DEFAULT_TIMEOUT_MS): number => addon.sysAccept(fd, timeoutMs);

/** SO_REUSEPORT, as a supervisor sharing a port between processes sets it (RFC use case A.1). */
export const setReusePort = (fd: number): void => addon.sysSetsockopt(fd, C.SOL_SOCKET, C.SO_REUSEPORT, 1);

/** TCP_USER_TIMEOUT, the option behind ZMQ_TCP_MAXRT. */
export const setTcpUserTimeout = (fd: number, ms: number): void => addon.sysSetsockopt(fd, C.IPPROTO_TCP, C.TCP_USER_TIMEOUT, ms);

/** shutdown(SHUT_RDWR): on a listening socket, every holder of the socket sees it stop listening. */
export const shutdown = (fd: number): void => addon.sysShutdown(fd, C.SHUT_RDWR);

/** open(path, O_PATH): a descriptor that is open, but that socket calls refuse as not open. */
export const openPath = (path: string): number => addon.sysOpen(path, C.O_PATH);

export const dup = (fd: number): number => addon.sysDup(fd);

/** dup2(): `fd` again, as number `to`. */
export const dup2 = (fd: number, to: number): number => addon.sysDup2(fd, to);

export const close = (fd: number): void => addon.sysClose(fd);

/** getsockname(): the address a socket is bound to (the port the kernel chose, for port 0). */
export function localAddress(fd: number): SockAddr {
  const address = addon.sysGetsockname(fd);
  if (typeof address.family === 'number') throw new Error(`fd ${fd} has address family ${address.family}, which the harness does not decode`);
  return address as SockAddr;
}

export function portOf(address: SockAddr): number {
  if (address.family === 'unix') throw new Error(`a UNIX socket address has no port: ${address.path}`);
  return address.port;
}

/** A stream socket bound to `address` and listening; returns it with its actual address. */
export function listener(
  address: SockAddr,
  { kind = 'stream', reusePort = false, protocol = 'default' }: { kind?: SocketKind; reusePort?: boolean; protocol?: Protocol } = {},
): { fd: number; address: SockAddr } {
  const fd = socket(address.family, kind, protocol);
  try {
    if (reusePort) setReusePort(fd);
    bind(fd, address);
    listen(fd);
    return { fd, address: localAddress(fd) };
  } catch (error) {
    close(fd);
    throw error;
  }
}

/** A stream socket connected to `address`. */
export function connectTo(address: SockAddr, protocol: Protocol = 'default'): number {
  const fd = socket(address.family, 'stream', protocol);
  try {
    connect(fd, address);
    return fd;
  } catch (error) {
    close(fd);
    throw error;
  }
}

export interface FdFlags {
  /** F_GETFL */
  status: number;
  /** F_GETFD */
  descriptor: number;
  nonblocking: boolean;
  cloexec: boolean;
}

export function flags(fd: number): FdFlags {
  const { status, descriptor } = addon.sysFcntlFlags(fd);
  return { status, descriptor, nonblocking: (status & C.O_NONBLOCK) !== 0, cloexec: (descriptor & C.FD_CLOEXEC) !== 0 };
}

/**
 * What a descriptor number refers to: libzmq closes adopted descriptors in its
 * own threads, and the number may be reused at once, so "still the same" means
 * the same device and inode behind the number, not just an open number.
 */
export interface FdIdentity {
  fd: number;
  dev: number;
  ino: number;
}

export function identify(fd: number): FdIdentity {
  const st = fs.fstatSync(fd);
  return { fd, dev: st.dev, ino: st.ino };
}

/** fstat(), or undefined for a number that is not open. */
function stat(fd: number): fs.Stats | undefined {
  try {
    return fs.fstatSync(fd);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EBADF') return undefined;
    throw error;
  }
}

export const isOpen = (fd: number): boolean => stat(fd) !== undefined;

/** Whether `id.fd` is open and still refers to the same file. */
export function stillOpen(id: FdIdentity): boolean {
  const st = stat(id.fd);
  return st !== undefined && st.dev === id.dev && st.ino === id.ino;
}

/** The process's open descriptors and what they refer to (readlink of /proc/self/fd/N). */
export function openFds(): Map<number, string> {
  const open = new Map<number, string>();
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try {
      open.set(Number(name), fs.readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // The descriptor readdir itself used, closed by now.
    }
  }
  return open;
}
