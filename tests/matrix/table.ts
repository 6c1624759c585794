// The conformance matrix, declared as data: which descriptors enter ZeroMQ in
// which role, through which scheme, carrying which socket types and security
// mechanisms, which lifecycle checks apply, and every row of RFC.md section 5.
// matrix.test.ts registers one ava test per cell; cells.ts says what each
// column does; fixtures.ts makes the descriptors. Nothing here depends on the
// library under test: against a libzmq without the series every cell is
// declared, runs, and fails.
//
// Size, and why not every combination: every origin × scheme × role row runs
// every socket-type pair with NULL security (the transport is what varies),
// and the security mechanisms run on one ZMTP pair, DEALER/ROUTER, on every
// row (ZMTP security is the same for every socket type, so more pairs would
// repeat the same handshake; ZMQ_STREAM has no security at all). The socket
// that holds the descriptor under test is always the PLAIN/CURVE server, so
// that ZAP and handshake failures happen on that descriptor's own connection
// in both roles; ZMTP does not care which side bound.
//
// MPTCP v4 has two rows per role, fd and tcp-fd, with the fd peer only: with
// a tcp:// peer the connection would be plain TCP. They run every column (84
// cells, about 1.3 s), since "TCP to applications" must hold for the
// lifecycle as for the messages. One column runs on them alone, `refused
// option`: MPTCP is the TCP socket whose kernel refuses one of libzmq's
// per-connection options.
import type { SocketType, os } from '../../harness/index.ts';

export type Role = 'bind' | 'connect';
export const ROLES: readonly Role[] = ['bind', 'connect'];

export type Scheme = 'fd' | 'tcp-fd' | 'ipc-fd';
export const SCHEMES: readonly Scheme[] = ['fd', 'tcp-fd', 'ipc-fd'];

/**
 * What a cell needs from the machine; the cell is skipped, with the reason,
 * where it is missing. `mptcp-maxrt`: MPTCP sockets refuse TCP_USER_TIMEOUT
 * (ZMQ_TCP_MAXRT) with ENOPROTOOPT, as Linux does as of 6.18.
 */
export type Requirement = 'ipv6' | 'vsock' | 'mptcp' | 'mptcp-maxrt';

/** Listening addresses the test makes itself, and how ZeroMQ names them. */
export type AddressKind = 'tcp4' | 'tcp6' | 'unix-path' | 'unix-abstract';

export const ADDRESS_KINDS: Record<AddressKind, { family: 'tcp' | 'unix'; requires?: Requirement }> = {
  tcp4: { family: 'tcp' },
  tcp6: { family: 'tcp', requires: 'ipv6' },
  'unix-path': { family: 'unix' },
  'unix-abstract': { family: 'unix' },
};

/**
 * The other end of the connection: `address`, a ZeroMQ socket using tcp:// or
 * ipc:// (bind role: it connects to the listener's address; connect role: it
 * is bound there, and the test connects a raw socket to it); `fd`, a ZeroMQ
 * socket given a descriptor too (bind role: a raw socket the test connected to
 * the listener; connect role: the other end of the socketpair or connection).
 */
export type Peer = 'address' | 'fd';

export interface OriginDef {
  label: string;
  /** Where the descriptor's connection or listener lives; none for socketpair. */
  address?: AddressKind;
  family: 'tcp' | 'unix';
  /** The protocol of every socket the test makes for the row, the peer's raw connection included. */
  protocol?: os.Protocol;
  /** What the origin needs beyond what its address kind needs. */
  requires?: Requirement;
  /** The peers each role is run with; a role that is absent does not apply. */
  roles: Partial<Record<Role, readonly Peer[]>>;
}

/** Where the descriptor under test comes from. */
export const ORIGINS = {
  tcp4: { label: 'TCP v4', address: 'tcp4', family: 'tcp', roles: { bind: ['address', 'fd'], connect: ['address'] } },
  tcp6: { label: 'TCP v6', address: 'tcp6', family: 'tcp', roles: { bind: ['address', 'fd'], connect: ['address'] } },
  'unix-path': { label: 'UNIX path', address: 'unix-path', family: 'unix', roles: { bind: ['address', 'fd'], connect: ['address'] } },
  'unix-abstract': { label: 'UNIX abstract', address: 'unix-abstract', family: 'unix', roles: { bind: ['address', 'fd'], connect: ['address'] } },
  socketpair: { label: 'socketpair', family: 'unix', roles: { connect: ['fd'] } },
  // Use case B.1: an inetd-style server accepts the connection itself.
  'accepted-tcp4': { label: 'accepted TCP v4', address: 'tcp4', family: 'tcp', roles: { connect: ['fd'] } },
  'accepted-unix': { label: 'accepted UNIX', address: 'unix-path', family: 'unix', roles: { connect: ['fd'] } },
  // MPTCP is TCP to applications. An MPTCP listener hands a plain TCP client a
  // plain TCP connection, so the peer's end is always an MPTCP socket of the
  // test's: the connection it makes to the listener (bind), or the one the test
  // accepts from it (connect, as for the accepted origins).
  mptcp4: { label: 'MPTCP v4', address: 'tcp4', family: 'tcp', protocol: 'mptcp', requires: 'mptcp', roles: { bind: ['fd'], connect: ['fd'] } },
} as const satisfies Record<string, OriginDef>;
export type OriginName = keyof typeof ORIGINS;

/** The family a scheme's own descriptors have: the error cells' `right` descriptors. */
export const schemeFamily = (scheme: Scheme): 'tcp' | 'unix' => (scheme === 'ipc-fd' ? 'unix' : 'tcp');

/** The schemes RFC.md section 2 lets a family use. */
export const schemesFor = (family: 'tcp' | 'unix'): Scheme[] => ['fd', family === 'tcp' ? 'tcp-fd' : 'ipc-fd'];

/** The other scheme that names the same descriptor: `fd` ↔ the family's own. */
export const siblingScheme = (scheme: Scheme, family: 'tcp' | 'unix'): Scheme => (scheme === 'fd' ? (family === 'tcp' ? 'tcp-fd' : 'ipc-fd') : 'fd');

export interface Row {
  role: Role;
  origin: OriginName;
  peer: Peer;
  scheme: Scheme;
}

export function rows(): Row[] {
  const out: Row[] = [];
  for (const role of ROLES) {
    for (const [origin, def] of Object.entries(ORIGINS) as [OriginName, OriginDef][]) {
      for (const peer of def.roles[role] ?? []) {
        for (const scheme of schemesFor(def.family)) out.push({ role, origin, peer, scheme });
      }
    }
  }
  return out;
}

export function rowLabel(row: Row): string {
  const def: OriginDef = ORIGINS[row.origin];
  const peer = row.peer === 'fd' ? 'fd' : def.family === 'tcp' ? 'tcp://' : 'ipc://';
  return `${row.role} · ${def.label} ${row.role === 'bind' ? '←' : '↔'} ${peer} · ${row.scheme}://`;
}

/**
 * Socket-type pairs: `bound` is the type that conventionally binds. The socket
 * given the descriptor under test takes `bound` in the bind role and
 * `connecting` in the connect role.
 */
export const SOCKET_PAIRS = {
  PAIR: { bound: 'PAIR', connecting: 'PAIR', code: 'PA' },
  'REQ/REP': { bound: 'REP', connecting: 'REQ', code: 'RR' },
  'DEALER/ROUTER': { bound: 'ROUTER', connecting: 'DEALER', code: 'DR' },
  'PUSH/PULL': { bound: 'PULL', connecting: 'PUSH', code: 'PP' },
  'PUB/SUB': { bound: 'PUB', connecting: 'SUB', code: 'PS' },
  STREAM: { bound: 'STREAM', connecting: 'STREAM', code: 'ST' },
} as const satisfies Record<string, { bound: SocketType; connecting: SocketType; code: string }>;
export type PairName = keyof typeof SOCKET_PAIRS;

/** What a security mode must lead to: messages pass, or the server's monitor reports this failure and nothing passes. */
export type Expectation = 'pass' | 'HANDSHAKE_FAILED_AUTH' | 'HANDSHAKE_FAILED_PROTOCOL';

export const SECURITY = {
  NULL: { expect: 'pass', code: '', what: '' },
  PLAIN: { expect: 'pass', code: 'P+', what: 'ZAP allows the user: messages pass' },
  'PLAIN, wrong password': { expect: 'HANDSHAKE_FAILED_AUTH', code: 'P-', what: 'ZAP says 400: HANDSHAKE_FAILED_AUTH on the server, nothing passes' },
  CURVE: { expect: 'pass', code: 'C+', what: "ZAP allows the client's key: messages pass" },
  'CURVE, wrong server key': { expect: 'HANDSHAKE_FAILED_PROTOCOL', code: 'C-', what: 'HELLO does not open: HANDSHAKE_FAILED_PROTOCOL on the server, nothing passes' },
} as const satisfies Record<string, { expect: Expectation; code: string; what: string }>;
export type SecurityName = keyof typeof SECURITY;

/** The ZMTP pair the security modes other than NULL run on. */
export const SECURED_PAIR: PairName = 'DEALER/ROUTER';

interface LifecycleDef {
  roles: readonly Role[];
  /** The origins it applies to; all of them when absent. */
  origins?: readonly OriginName[];
  requires?: Requirement;
  code: string;
  what: string;
}

export const LIFECYCLE = {
  'peer close': { roles: ['connect'], code: 'pc', what: 'peer closes: DISCONNECTED, no reconnect, endpoint gone (ENOENT), fd closed' },
  'kept after peer close': { roles: ['connect'], code: 'kp', what: 'a message received before the peer closed is still readable once the endpoint is gone' },
  close: { roles: ['bind', 'connect'], code: 'cl', what: 'zmq_close closes the fd, once' },
  'unbind / disconnect': { roles: ['bind', 'connect'], code: 'rm', what: 'zmq_unbind / zmq_disconnect close the fd, once (bind: LISTENING and CLOSED events)' },
  'ctx term': { roles: ['bind', 'connect'], code: 'te', what: 'the fd is closed when zmq_ctx_term returns' },
  'last endpoint': { roles: ['bind', 'connect'], code: 'le', what: 'ZMQ_LAST_ENDPOINT is the endpoint as given; the other scheme gives ENOENT' },
  'several fds': { roles: ['bind', 'connect'], code: 'sv', what: 'three fds on one socket all carry messages and all close' },
  'ROUTER routing': { roles: ['bind', 'connect'], code: 'ro', what: 'a ROUTER with three fd peers routes each reply to its own peer' },
  'shut down by another holder': {
    roles: ['bind'],
    code: 'sd',
    what: 'shutdown() of a dup stops the listener: ACCEPT_FAILED (EINVAL), endpoint gone (ENOENT), CLOSED, fd closed once',
  },
  'disconnect in handshake': {
    roles: ['connect'],
    code: 'dh',
    what: 'a raw peer never answers the greeting (ZMQ_HANDSHAKE_IVL 0, default linger): zmq_disconnect closes the fd, zmq_ctx_term returns',
  },
  'STREAM close': {
    roles: ['bind', 'connect'],
    code: 'sc',
    what: "ZMQ_STREAM closes its connection with an empty frame: DISCONNECTED on its own monitor (connect: the fd and fd://N, endpoint gone; bind: as ACCEPTED named it)",
  },
  'number reused, DEALER': {
    roles: ['connect'],
    code: 'nd',
    what: 'after the peer closed fd N, a new connection as N connects, carries messages and disconnects',
  },
  'number reused, STREAM': { roles: ['connect'], code: 'ns', what: 'the same over ZMQ_STREAM' },
  'refused option': {
    roles: ['bind', 'connect'],
    origins: ['mptcp4'],
    requires: 'mptcp-maxrt',
    code: 'mx',
    what: 'ZMQ_TCP_MAXRT, which MPTCP refuses: the connection is not served (bind: ACCEPT_FAILED with ENOPROTOOPT, the peer sees the end; connect: DISCONNECTED, endpoint gone, fd closed)',
  },
} as const satisfies Record<string, LifecycleDef>;
export type LifecycleName = keyof typeof LIFECYCLE;

/** One cell of the transport grid: a row, and either a message exchange or a lifecycle check. */
export type TransportCell = { row: Row } & ({ kind: 'exchange'; pair: PairName; security: SecurityName } | { kind: 'lifecycle'; check: LifecycleName });

export const transportColumn = (cell: TransportCell): string =>
  cell.kind === 'lifecycle' ? cell.check : cell.security === 'NULL' ? cell.pair : cell.security;

export function transportCells(): TransportCell[] {
  const out: TransportCell[] = [];
  for (const row of rows()) {
    for (const pair of Object.keys(SOCKET_PAIRS) as PairName[]) out.push({ row, kind: 'exchange', pair, security: 'NULL' });
    for (const security of Object.keys(SECURITY) as SecurityName[]) {
      if (security !== 'NULL') out.push({ row, kind: 'exchange', pair: SECURED_PAIR, security });
    }
    for (const [check, def] of Object.entries(LIFECYCLE) as [LifecycleName, LifecycleDef][]) {
      if (def.roles.includes(row.role) && (def.origins?.includes(row.origin) ?? true)) out.push({ row, kind: 'lifecycle', check });
    }
  }
  return out;
}

/** What a transport cell needs from the machine: its origin's, its address kind's, and its column's. */
export function transportRequirements(cell: TransportCell): Requirement[] {
  const origin: OriginDef = ORIGINS[cell.row.origin];
  const column: LifecycleDef | undefined = cell.kind === 'lifecycle' ? LIFECYCLE[cell.check] : undefined;
  return [origin.requires, origin.address && ADDRESS_KINDS[origin.address].requires, column?.requires].filter((r) => r !== undefined);
}

/** Grid columns in display order, with a short code for the console table. */
export const TRANSPORT_COLUMNS: readonly { name: string; code: string; group: string; what?: string }[] = [
  ...Object.entries(SOCKET_PAIRS).map(([name, p]) => ({ name, code: p.code, group: 'socket types, NULL security' })),
  ...Object.entries(SECURITY)
    .filter(([name]) => name !== 'NULL')
    .map(([name, s]) => ({ name, code: s.code, group: `${SECURED_PAIR} with security`, what: s.what })),
  ...Object.entries(LIFECYCLE).map(([name, l]) => ({ name, code: l.code, group: 'lifecycle', what: l.what })),
];

// ---- errors (RFC.md section 5) ------------------------------------------------

/**
 * Descriptors for the error cells; fixtures.ts makes them. Per role, "right"
 * is the state the role wants (listening for bind, connected for connect) and
 * "wrong" the other one; `right` alone takes the family of the scheme (TCP v4
 * for fd and tcp-fd, UNIX for ipc-fd), so that only the endpoint string is wrong.
 */
export type ErrorFixture =
  | 'right'
  | 'listening'
  | 'right-tcp'
  | 'right-unix'
  | 'wrong-tcp'
  | 'wrong-unix'
  | 'fresh-tcp'
  | 'fresh-unix'
  | 'bound-tcp'
  | 'closed'
  | 'int-max'
  | 'pipe'
  | 'file'
  | 'o-path-dir'
  | 'o-path-socket'
  | 'udp'
  | 'unix-dgram'
  | 'seqpacket'
  | 'vsock';

/**
 * For EADDRINUSE: where the descriptor was handed in first. `ZMQ_USE_FD`: to
 * another socket's tcp:// or ipc:// bind, through that option.
 */
export type Already = 'same socket' | 'same socket, other scheme' | 'other socket' | 'ZMQ_USE_FD';

/** RFC.md section 5's table: its rows, in the order the checks run. */
export const RFC_ERRORS = {
  1: { errno: 'EINVAL', what: 'not in canonical form, or out of range' },
  2: { errno: 'EBADF', what: 'not an open descriptor' },
  3: { errno: 'ENOTSOCK', what: 'not a socket' },
  4: { errno: 'EPROTOTYPE', what: 'not SOCK_STREAM' },
  5: { errno: 'EAFNOSUPPORT', what: 'a family the scheme does not take' },
  6: { errno: 'EINVAL', what: 'bind: not listening; connect: listening' },
  7: { errno: 'ENOTCONN', what: 'connect: not connected' },
  8: { errno: 'EADDRINUSE', what: 'already owned by the context' },
} as const;
export type RfcErrorRow = keyof typeof RFC_ERRORS;

export interface ErrorCase {
  rfc: RfcErrorRow;
  name: string;
  fixture: ErrorFixture;
  roles?: readonly Role[];
  schemes?: readonly Scheme[];
  /** The endpoint's number part, from the descriptor's number; default: the number. */
  number?: (fd: number) => string;
  already?: Already;
  /** The call that must fail: the endpoint (default), or a tcp:// or ipc:// bind through ZMQ_USE_FD. */
  through?: 'ZMQ_USE_FD';
  socketType?: SocketType;
  requires?: Requirement;
  /**
   * RFC.md 7.2: the bind runs with a monitor for ZMQ_EVENT_BIND_FAILED, which
   * must carry the errno and the endpoint, while zmq_bind still fails with
   * that errno (section 5). The plain cases run unmonitored.
   */
  monitored?: true;
}

const TCP_SCHEMES: readonly Scheme[] = ['fd', 'tcp-fd'];
const UNIX_SCHEMES: readonly Scheme[] = ['fd', 'ipc-fd'];

/** Non-canonical numbers (RFC.md section 2), built around an open descriptor so that only the form is wrong. */
const MALFORMED: readonly [string, (fd: number) => string][] = [
  ['leading zero', (fd) => `0${fd}`],
  ['plus sign', (fd) => `+${fd}`],
  ['minus sign', (fd) => `-${fd}`],
  ['leading space', (fd) => ` ${fd}`],
  ['trailing space', (fd) => `${fd} `],
  ['trailing letter', (fd) => `${fd}x`],
  ['hexadecimal', (fd) => `0x${fd.toString(16)}`],
  ['INT_MAX + 1, out of range', () => '2147483648'],
  ['2^32 + N, out of range (N modulo 2^32)', (fd) => String(2 ** 32 + fd)],
  ['empty', () => ''],
];

export const ERROR_CASES: readonly ErrorCase[] = [
  ...MALFORMED.map(([name, number]) => ({ rfc: 1 as const, name, fixture: 'right' as const, number })),
  { rfc: 2, name: 'a number just closed', fixture: 'closed' },
  { rfc: 2, name: 'INT_MAX, not open', fixture: 'int-max' },
  { rfc: 3, name: 'a pipe', fixture: 'pipe' },
  { rfc: 3, name: 'a regular file', fixture: 'file' },
  // Socket calls refuse an O_PATH descriptor with EBADF, although it is open.
  { rfc: 3, name: 'O_PATH on a directory (/)', fixture: 'o-path-dir' },
  { rfc: 3, name: 'O_PATH on a UNIX socket file', fixture: 'o-path-socket' },
  { rfc: 4, name: 'SOCK_DGRAM, UDP', fixture: 'udp' },
  { rfc: 4, name: 'SOCK_DGRAM, UNIX', fixture: 'unix-dgram' },
  { rfc: 4, name: 'SOCK_SEQPACKET, UNIX', fixture: 'seqpacket' },
  { rfc: 5, name: 'tcp-fd on AF_UNIX', fixture: 'right-unix', schemes: ['tcp-fd'] },
  { rfc: 5, name: 'ipc-fd on AF_INET', fixture: 'right-tcp', schemes: ['ipc-fd'] },
  { rfc: 5, name: 'AF_VSOCK', fixture: 'vsock', requires: 'vsock' },
  { rfc: 5, name: 'tcp-fd on AF_UNIX in the other role (family before role)', fixture: 'wrong-unix', schemes: ['tcp-fd'] },
  { rfc: 6, name: 'the other role, TCP (bind: connected; connect: listening)', fixture: 'wrong-tcp', schemes: TCP_SCHEMES },
  { rfc: 6, name: 'the other role, UNIX (bind: socketpair; connect: listening)', fixture: 'wrong-unix', schemes: UNIX_SCHEMES },
  { rfc: 6, name: 'bind on a bound TCP socket, not listening', fixture: 'bound-tcp', roles: ['bind'], schemes: TCP_SCHEMES },
  { rfc: 6, name: 'bind on a new TCP socket', fixture: 'fresh-tcp', roles: ['bind'], schemes: TCP_SCHEMES },
  // ZMQ_USE_FD takes a listening socket, which connect refuses before it looks at ownership.
  { rfc: 6, name: 'connect on a listener taken through ZMQ_USE_FD (role before ownership)', fixture: 'listening', already: 'ZMQ_USE_FD', roles: ['connect'] },
  { rfc: 7, name: 'a new TCP socket', fixture: 'fresh-tcp', roles: ['connect'], schemes: TCP_SCHEMES },
  { rfc: 7, name: 'a bound TCP socket, not listening', fixture: 'bound-tcp', roles: ['connect'], schemes: TCP_SCHEMES },
  { rfc: 7, name: 'an unbound UNIX socket', fixture: 'fresh-unix', roles: ['connect'], schemes: UNIX_SCHEMES },
  { rfc: 8, name: 'again, on the same socket', fixture: 'right', already: 'same socket' },
  { rfc: 8, name: 'again, on the same socket, with the other scheme', fixture: 'right', already: 'same socket, other scheme' },
  { rfc: 8, name: 'again, on another socket of the context', fixture: 'right', already: 'other socket' },
  // ZMQ_USE_FD and fd endpoints share the context's ownership, in both orders.
  { rfc: 8, name: 'taken through ZMQ_USE_FD on another socket', fixture: 'listening', already: 'ZMQ_USE_FD', roles: ['bind'] },
  { rfc: 8, name: 'again, through ZMQ_USE_FD on another socket', fixture: 'listening', already: 'other socket', through: 'ZMQ_USE_FD', roles: ['bind'] },
  // DEALER, SUB, PUB and REQ refuse a repeated endpoint before it is resolved (RFC.md section 4).
  { rfc: 8, name: 'again, on the same DEALER (its single-connect check)', fixture: 'right', already: 'same socket', socketType: 'DEALER', roles: ['connect'] },
  // RFC.md 7.2: one failing bind per row a bind can reach, with a monitor
  // (the event's endpoint is the string as given, so fd:// stands for every scheme).
  ...(
    [
      { rfc: 1, name: 'leading zero', fixture: 'right', number: (fd) => `0${fd}` },
      { rfc: 2, name: 'a number just closed', fixture: 'closed' },
      { rfc: 3, name: 'a pipe', fixture: 'pipe' },
      { rfc: 4, name: 'SOCK_SEQPACKET, UNIX', fixture: 'seqpacket' },
      { rfc: 5, name: 'tcp-fd on AF_UNIX', fixture: 'right-unix', schemes: ['tcp-fd'] },
      { rfc: 6, name: 'a connected TCP socket', fixture: 'wrong-tcp' },
      { rfc: 8, name: 'again, on the same socket', fixture: 'right', already: 'same socket' },
    ] satisfies ErrorCase[]
  ).map((c): ErrorCase => ({ schemes: ['fd'], ...c, roles: ['bind'], monitored: true })),
];

export interface ErrorCell {
  case: ErrorCase;
  role: Role;
  scheme: Scheme;
}

export const errnoOf = (c: ErrorCase): string => RFC_ERRORS[c.rfc].errno;
const MONITORED_GROUP = '7.2 BIND_FAILED: with a monitor, event and errno';
export const errorGroupLabel = (c: ErrorCase): string => (c.monitored ? MONITORED_GROUP : `${c.rfc}. ${errnoOf(c)}: ${RFC_ERRORS[c.rfc].what}`);
export const errorRowLabel = (c: ErrorCase): string => `${c.monitored ? '7.2 BIND_FAILED, ' : `${c.rfc}. `}${errnoOf(c)}: ${c.name}`;
export const errorColumn = (role: Role, scheme: Scheme): string => `${role} ${scheme}://`;
export const ERROR_COLUMNS: readonly string[] = ROLES.flatMap((role) => SCHEMES.map((scheme) => errorColumn(role, scheme)));

export function errorCells(): ErrorCell[] {
  return ERROR_CASES.flatMap((c) =>
    (c.roles ?? ROLES).flatMap((role) => (c.schemes ?? SCHEMES).map((scheme) => ({ case: c, role, scheme }))),
  );
}
