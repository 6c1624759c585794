// Making the descriptors the matrix hands to ZeroMQ, and the peers at their
// other end. Every descriptor the test makes goes through the bench's ledger.
import fs from 'node:fs';
import * as zmq from '../../harness/index.ts';
import type { Bench } from './bench.ts';
import { ADDRESS_KINDS, ORIGINS, type AddressKind, type ErrorFixture, type Requirement, type Role, type Row, type Scheme } from './table.ts';

const { os } = zmq;
type SockAddr = zmq.os.SockAddr;

/** An address of `kind` to bind to; port 0 lets the kernel pick. */
export function freshAddress(bench: Bench, kind: AddressKind): SockAddr {
  switch (kind) {
    case 'tcp4':
      return { family: 'inet', host: '127.0.0.1', port: 0 };
    case 'tcp6':
      return { family: 'inet6', host: '::1', port: 0 };
    case 'unix-path':
      return { family: 'unix', path: bench.scratchPath(), abstract: false };
    case 'unix-abstract':
      return { family: 'unix', path: bench.abstractName(), abstract: true };
  }
}

/** How ZeroMQ names an address: tcp://127.0.0.1:N, tcp://[::1]:N, ipc:///path, ipc://@name (port 0 binds to any). */
export function zmqEndpoint(address: SockAddr): string {
  if (address.family === 'unix') return `ipc://${address.abstract ? '@' : ''}${address.path}`;
  return address.family === 'inet6' ? `tcp://[${address.host}]:${address.port}` : `tcp://${address.host}:${address.port}`;
}

/** The inverse of zmqEndpoint, for the ZMQ_LAST_ENDPOINT of a bound peer. */
export function parseEndpoint(endpoint: string): SockAddr {
  const tcp = /^tcp:\/\/(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(endpoint);
  if (tcp) return tcp[1] !== undefined ? { family: 'inet6', host: tcp[1], port: Number(tcp[3]) } : { family: 'inet', host: tcp[2] ?? '', port: Number(tcp[3]) };
  const ipc = /^ipc:\/\/(@?)(.+)$/.exec(endpoint);
  if (ipc?.[2] !== undefined) return { family: 'unix', path: ipc[2], abstract: ipc[1] === '@' };
  throw new Error(`not a tcp:// or ipc:// endpoint: ${endpoint}`);
}

/**
 * A listening stream socket, tracked. TCP listeners get SO_REUSEPORT, as a
 * supervisor sharing a port between processes sets it (use case A.1): what the
 * creator of a listener chose is no business of libzmq's.
 */
export function listen(bench: Bench, kind: AddressKind, what = `${kind} listener`): { fd: number; address: SockAddr } {
  const address = freshAddress(bench, kind);
  const l = os.listener(address, { reusePort: address.family !== 'unix' });
  bench.track(l.fd, what);
  return l;
}

/** Has a ZeroMQ socket bind or connect to `address` through tcp:// or ipc://; returns its endpoint. */
function viaAddress(socket: zmq.Socket, role: Role, address: SockAddr): string {
  if (address.family === 'inet6') socket.set('IPV6', 1);
  const endpoint = zmqEndpoint(address);
  if (role === 'bind') return socket.bind(endpoint).lastEndpoint;
  socket.connect(endpoint);
  return endpoint;
}

/** One connection of a row, as the subject sees it. */
export interface Link {
  /** The descriptor under test, handed to the subject. */
  fd: number;
  /** `<scheme>://<fd>`, as handed in. */
  endpoint: string;
  /** The socket file of a bound UNIX path listener, which libzmq must not unlink (RFC.md section 3). */
  socketFile?: string;
}

/**
 * Makes one connection of `row`: the subject (the ZeroMQ socket under test)
 * gets the descriptor under test in the row's role; the peer reaches it the
 * row's way. Several calls on one subject give it several descriptors.
 */
export function attach(bench: Bench, row: Row, subject: zmq.Socket, peer: zmq.Socket): Link {
  const origin = ORIGINS[row.origin];
  const kind: AddressKind | undefined = 'address' in origin ? origin.address : undefined;
  const fdEndpoint = (fd: number): string => `${row.scheme}://${fd}`;

  if (row.role === 'bind') {
    if (kind === undefined) throw new Error(`${row.origin} cannot be bound`);
    const { fd, address } = listen(bench, kind);
    const endpoint = bench.handIn(subject, 'bind', fdEndpoint(fd), fd);
    if (row.peer === 'address') viaAddress(peer, 'connect', address);
    else {
      const raw = bench.track(os.connectTo(address), 'peer connection');
      bench.handIn(peer, 'connect', fdEndpoint(raw), raw);
    }
    return { fd, endpoint, ...(address.family === 'unix' && !address.abstract ? { socketFile: address.path } : {}) };
  }

  let fd: number;
  if (row.origin === 'socketpair') {
    const [mine, theirs] = os.socketpair();
    fd = bench.track(mine, 'socketpair end');
    bench.track(theirs, 'peer socketpair end');
    bench.handIn(peer, 'connect', fdEndpoint(theirs), theirs);
  } else if (kind === undefined) {
    throw new Error(`${row.origin} has no address`);
  } else if (row.peer === 'address') {
    const bound = viaAddress(peer, 'bind', freshAddress(bench, kind));
    fd = bench.track(os.connectTo(parseEndpoint(bound)), `connection to ${bound}`);
  } else {
    // Accepted by the test itself: the subject gets the accepted end, the peer the connecting end.
    const l = listen(bench, kind);
    const theirs = bench.track(os.connectTo(l.address), 'peer connection');
    fd = bench.track(os.accept(l.fd), 'accepted connection');
    bench.close(l.fd);
    bench.handIn(peer, 'connect', fdEndpoint(theirs), theirs);
  }
  return { fd, endpoint: bench.handIn(subject, 'connect', fdEndpoint(fd), fd) };
}

// ---- requirements ---------------------------------------------------------------

const PROBES: Record<Requirement, [string, () => void]> = {
  ipv6: ['the IPv6 loopback ::1', () => os.close(os.listener({ family: 'inet6', host: '::1', port: 0 }).fd)],
  vsock: ['AF_VSOCK sockets', () => os.close(os.socket('vsock'))],
};
const missing = new Map<Requirement, string | undefined>();

/** Why this machine cannot run cells that need `requirement`; undefined when it can. */
export function unavailable(requirement: Requirement | undefined): string | undefined {
  if (requirement === undefined) return undefined;
  if (!missing.has(requirement)) {
    const [what, probe] = PROBES[requirement];
    try {
      probe();
      missing.set(requirement, undefined);
    } catch (error) {
      const code = zmq.isZmqError(error) ? `${error.syscall}: ${error.code}` : String(error);
      missing.set(requirement, `${what} unavailable here (${code})`);
    }
  }
  return missing.get(requirement);
}

export const requirementOf = (row: Row): Requirement | undefined => {
  const origin = ORIGINS[row.origin];
  return 'address' in origin ? ADDRESS_KINDS[origin.address].requires : undefined;
};

// ---- descriptors for the error cells ------------------------------------------------

/** The descriptor an error cell hands in; `open` is false for a number that refers to nothing. */
export interface ErrorTarget {
  fd: number;
  open: boolean;
}

/** A stream socket of `family` in the state `role` wants: listening for bind, connected for connect. */
function inRole(bench: Bench, family: 'tcp' | 'unix', role: Role): number {
  if (role === 'bind') return listen(bench, family === 'tcp' ? 'tcp4' : 'unix-path').fd;
  if (family === 'unix') {
    const [mine, theirs] = os.socketpair();
    bench.track(theirs, 'other socketpair end');
    return bench.track(mine, 'socketpair end');
  }
  return bench.track(os.connectTo(listen(bench, 'tcp4').address), 'TCP connection');
}

const otherRole = (role: Role): Role => (role === 'bind' ? 'connect' : 'bind');

const ERROR_FIXTURES: Record<ErrorFixture, (bench: Bench, role: Role, scheme: Scheme) => ErrorTarget> = {
  right: (bench, role, scheme) => ({ fd: inRole(bench, scheme === 'ipc-fd' ? 'unix' : 'tcp', role), open: true }),
  'right-tcp': (bench, role) => ({ fd: inRole(bench, 'tcp', role), open: true }),
  'right-unix': (bench, role) => ({ fd: inRole(bench, 'unix', role), open: true }),
  'wrong-tcp': (bench, role) => ({ fd: inRole(bench, 'tcp', otherRole(role)), open: true }),
  'wrong-unix': (bench, role) => ({ fd: inRole(bench, 'unix', otherRole(role)), open: true }),
  'fresh-tcp': (bench) => ({ fd: bench.track(os.socket('inet'), 'new TCP socket'), open: true }),
  'fresh-unix': (bench) => ({ fd: bench.track(os.socket('unix'), 'new UNIX socket'), open: true }),
  'bound-tcp': (bench) => {
    const fd = bench.track(os.socket('inet'), 'bound TCP socket');
    os.bind(fd, freshAddress(bench, 'tcp4'));
    return { fd, open: true };
  },
  closed: () => {
    const fd = fs.openSync('/dev/null', 'r');
    fs.closeSync(fd);
    return { fd, open: false };
  },
  'int-max': () => ({ fd: 2147483647, open: false }),
  pipe: (bench) => {
    const [read, write] = os.pipe();
    bench.track(write, 'pipe write end');
    return { fd: bench.track(read, 'pipe read end'), open: true };
  },
  file: (bench) => ({ fd: bench.track(fs.openSync(bench.scratchPath('.file'), 'w+'), 'regular file'), open: true }),
  udp: (bench, role) => {
    const fd = bench.track(os.socket('inet', 'dgram'), 'UDP socket');
    // A connected UDP socket has a peer name, so only its type is wrong for connect.
    if (role === 'connect') os.connect(fd, { family: 'inet', host: '127.0.0.1', port: 9 });
    return { fd, open: true };
  },
  'unix-dgram': (bench) => {
    const [mine, theirs] = os.socketpair('dgram');
    bench.track(theirs, 'other datagram socketpair end');
    return { fd: bench.track(mine, 'datagram socketpair end'), open: true };
  },
  seqpacket: (bench, role) => {
    if (role === 'bind') {
      const l = os.listener(freshAddress(bench, 'unix-path'), { kind: 'seqpacket' });
      return { fd: bench.track(l.fd, 'listening SOCK_SEQPACKET socket'), open: true };
    }
    const [mine, theirs] = os.socketpair('seqpacket');
    bench.track(theirs, 'other seqpacket socketpair end');
    return { fd: bench.track(mine, 'seqpacket socketpair end'), open: true };
  },
  vsock: (bench) => ({ fd: bench.track(os.socket('vsock'), 'AF_VSOCK socket'), open: true }),
};

export const errorTarget = (bench: Bench, fixture: ErrorFixture, role: Role, scheme: Scheme): ErrorTarget => ERROR_FIXTURES[fixture](bench, role, scheme);
