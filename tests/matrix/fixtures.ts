// Making the descriptors the matrix hands to ZeroMQ, and the peers at their
// other end. Every descriptor the test makes goes through the cell's Accounting ledger.
import fs from 'node:fs';
import * as zmq from '../../harness/index.ts';
import type { Accounting } from './accounting.ts';
import { ORIGINS, schemeFamily, type AddressKind, type ErrorFixture, type OriginDef, type Requirement, type Role, type Row, type Scheme } from './table.ts';

const { os } = zmq;
type SockAddr = zmq.os.SockAddr;

/** An address of `kind` to bind to; port 0 lets the kernel pick. */
export function freshAddress(accounting: Accounting, kind: AddressKind): SockAddr {
  switch (kind) {
    case 'tcp4':
      return { family: 'inet', host: '127.0.0.1', port: 0 };
    case 'tcp6':
      return { family: 'inet6', host: '::1', port: 0 };
    case 'unix-path':
      return { family: 'unix', path: accounting.scratchPath(), abstract: false };
    case 'unix-abstract':
      return { family: 'unix', path: accounting.abstractName(), abstract: true };
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
export function listen(accounting: Accounting, kind: AddressKind, protocol: zmq.os.Protocol = 'default'): { fd: number; address: SockAddr } {
  const address = freshAddress(accounting, kind);
  const l = os.listener(address, { reusePort: address.family !== 'unix', protocol });
  accounting.track(l.fd, `${kind}${protocol === 'default' ? '' : ` ${protocol}`} listener`);
  return l;
}

/** The ZMQ_USE_FD way to bind on listening descriptor `fd`: the option, then a tcp:// or ipc:// bind (to fd's own address, which libzmq ignores). */
export function bindWithUseFd(socket: zmq.Socket, fd: number): void {
  socket.set('USE_FD', fd).bind(zmqEndpoint(os.localAddress(fd)));
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
 * row's way. Without a peer, the other end is a raw socket that the test
 * keeps and that never speaks ZMTP (connect role: a socketpair end, or the
 * connecting end of a connection the test accepted). `number`: the number the
 * subject's connected descriptor must get (see Accounting.renumber). Several calls
 * on one subject give it several descriptors.
 */
export function attach(accounting: Accounting, row: Row, subject: zmq.Socket, peer: zmq.Socket | undefined, { number }: { number?: number } = {}): Link {
  const origin: OriginDef = ORIGINS[row.origin];
  const kind = origin.address;
  const protocol = origin.protocol ?? 'default';
  const fdEndpoint = (fd: number): string => `${row.scheme}://${fd}`;
  const toPeer = (fd: number): void => {
    if (peer) accounting.handIn(peer, 'connect', fdEndpoint(fd), fd);
  };

  if (row.role === 'bind') {
    if (kind === undefined) throw new Error(`${row.origin} cannot be bound`);
    const { fd, address } = listen(accounting, kind, protocol);
    const endpoint = accounting.handIn(subject, 'bind', fdEndpoint(fd), fd);
    if (row.peer === 'address' && peer) viaAddress(peer, 'connect', address);
    else toPeer(accounting.track(os.connectTo(address, protocol), 'peer connection'));
    return { fd, endpoint, ...(address.family === 'unix' && !address.abstract ? { socketFile: address.path } : {}) };
  }

  let fd: number;
  if (row.origin === 'socketpair') {
    const [mine, theirs] = os.socketpair();
    fd = accounting.track(mine, 'socketpair end');
    toPeer(accounting.track(theirs, 'peer socketpair end'));
  } else if (kind === undefined) {
    throw new Error(`${row.origin} has no address`);
  } else if (row.peer === 'address' && peer) {
    const bound = viaAddress(peer, 'bind', freshAddress(accounting, kind));
    fd = accounting.track(os.connectTo(parseEndpoint(bound), protocol), `connection to ${bound}`);
  } else {
    // Accepted by the test itself: the subject gets the accepted end, the peer the connecting end.
    const l = listen(accounting, kind, protocol);
    const theirs = accounting.track(os.connectTo(l.address, protocol), 'peer connection');
    fd = accounting.track(os.accept(l.fd), 'accepted connection');
    accounting.close(l.fd);
    toPeer(theirs);
  }
  if (number !== undefined) fd = accounting.renumber(fd, number);
  return { fd, endpoint: accounting.handIn(subject, 'connect', fdEndpoint(fd), fd) };
}

// ---- requirements ---------------------------------------------------------------

/** An MPTCP socket, for `probe` to try; closed afterwards. */
function withMptcpSocket(probe: (fd: number) => void): void {
  const fd = os.socket('inet', 'stream', 'mptcp');
  try {
    probe(fd);
  } finally {
    os.close(fd);
  }
}

const PROBES: Record<Requirement, [string, () => void]> = {
  ipv6: ['the IPv6 loopback ::1', () => os.close(os.listener({ family: 'inet6', host: '::1', port: 0 }).fd)],
  vsock: ['AF_VSOCK sockets', () => os.close(os.socket('vsock'))],
  mptcp: ['MPTCP sockets', () => withMptcpSocket(() => {})],
  'mptcp-maxrt': [
    'an MPTCP socket that refuses TCP_USER_TIMEOUT with ENOPROTOOPT',
    () =>
      withMptcpSocket((fd) => {
        try {
          os.setTcpUserTimeout(fd, 1000);
        } catch (error) {
          if (zmq.isZmqError(error) && error.code === 'ENOPROTOOPT') return;
          throw error;
        }
        throw new Error('the kernel accepts it');
      }),
  ],
};
const missing = new Map<Requirement, string | undefined>();

/** Why this machine cannot run cells that need `requirements`: the first one missing; undefined when it can. */
export function unavailable(requirements: readonly Requirement[]): string | undefined {
  for (const requirement of requirements) {
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
    const reason = missing.get(requirement);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

// ---- descriptors for the error cells ------------------------------------------------

/** The descriptor an error cell hands in; `open` is false for a number that refers to nothing. */
export interface ErrorTarget {
  fd: number;
  open: boolean;
}

/** A stream socket of `family` in the state `role` wants: listening for bind, connected for connect. */
function inRole(accounting: Accounting, family: 'tcp' | 'unix', role: Role): number {
  if (role === 'bind') return listen(accounting, family === 'tcp' ? 'tcp4' : 'unix-path').fd;
  if (family === 'unix') {
    const [mine, theirs] = os.socketpair();
    accounting.track(theirs, 'other socketpair end');
    return accounting.track(mine, 'socketpair end');
  }
  return accounting.track(os.connectTo(listen(accounting, 'tcp4').address), 'TCP connection');
}

const otherRole = (role: Role): Role => (role === 'bind' ? 'connect' : 'bind');

const ERROR_FIXTURES: Record<ErrorFixture, (accounting: Accounting, role: Role, scheme: Scheme) => ErrorTarget> = {
  right: (accounting, role, scheme) => ({ fd: inRole(accounting, schemeFamily(scheme), role), open: true }),
  listening: (accounting, _role, scheme) => ({ fd: inRole(accounting, schemeFamily(scheme), 'bind'), open: true }),
  'right-tcp': (accounting, role) => ({ fd: inRole(accounting, 'tcp', role), open: true }),
  'right-unix': (accounting, role) => ({ fd: inRole(accounting, 'unix', role), open: true }),
  'wrong-tcp': (accounting, role) => ({ fd: inRole(accounting, 'tcp', otherRole(role)), open: true }),
  'wrong-unix': (accounting, role) => ({ fd: inRole(accounting, 'unix', otherRole(role)), open: true }),
  'fresh-tcp': (accounting) => ({ fd: accounting.track(os.socket('inet'), 'new TCP socket'), open: true }),
  'fresh-unix': (accounting) => ({ fd: accounting.track(os.socket('unix'), 'new UNIX socket'), open: true }),
  'bound-tcp': (accounting) => {
    const fd = accounting.track(os.socket('inet'), 'bound TCP socket');
    os.bind(fd, freshAddress(accounting, 'tcp4'));
    return { fd, open: true };
  },
  closed: () => {
    const fd = fs.openSync('/dev/null', 'r');
    fs.closeSync(fd);
    return { fd, open: false };
  },
  'int-max': () => ({ fd: 2147483647, open: false }),
  pipe: (accounting) => {
    const [read, write] = os.pipe();
    accounting.track(write, 'pipe write end');
    return { fd: accounting.track(read, 'pipe read end'), open: true };
  },
  file: (accounting) => ({ fd: accounting.track(fs.openSync(accounting.scratchPath('.file'), 'w+'), 'regular file'), open: true }),
  'o-path-dir': (accounting) => ({ fd: accounting.track(os.openPath('/'), 'O_PATH descriptor of /'), open: true }),
  'o-path-socket': (accounting) => {
    const path = accounting.scratchPath();
    accounting.track(os.listener({ family: 'unix', path, abstract: false }).fd, 'UNIX listener');
    return { fd: accounting.track(os.openPath(path), `O_PATH descriptor of ${path}`), open: true };
  },
  udp: (accounting, role) => {
    const fd = accounting.track(os.socket('inet', 'dgram'), 'UDP socket');
    // A connected UDP socket has a peer name, so only its type is wrong for connect.
    if (role === 'connect') os.connect(fd, { family: 'inet', host: '127.0.0.1', port: 9 });
    return { fd, open: true };
  },
  'unix-dgram': (accounting) => {
    const [mine, theirs] = os.socketpair('dgram');
    accounting.track(theirs, 'other datagram socketpair end');
    return { fd: accounting.track(mine, 'datagram socketpair end'), open: true };
  },
  seqpacket: (accounting, role) => {
    if (role === 'bind') {
      const l = os.listener(freshAddress(accounting, 'unix-path'), { kind: 'seqpacket' });
      return { fd: accounting.track(l.fd, 'listening SOCK_SEQPACKET socket'), open: true };
    }
    const [mine, theirs] = os.socketpair('seqpacket');
    accounting.track(theirs, 'other seqpacket socketpair end');
    return { fd: accounting.track(mine, 'seqpacket socketpair end'), open: true };
  },
  vsock: (accounting) => ({ fd: accounting.track(os.socket('vsock'), 'AF_VSOCK socket'), open: true }),
};

export const errorTarget = (accounting: Accounting, fixture: ErrorFixture, role: Role, scheme: Scheme): ErrorTarget => ERROR_FIXTURES[fixture](accounting, role, scheme);
