// What each column of the matrix does. A cell runs on its own Accounting (context,
// descriptor ledger) and either returns or throws; `run` turns that, plus the
// Accounting's end-of-cell checks, into the outcome the matrix records.
import fs from 'node:fs';
import { constants } from 'node:os';
import * as zmq from '../../harness/index.ts';
import { Accounting, check, describe, expectErrno } from './accounting.ts';
import { attach, bindWithUseFd, errorTarget, type Link } from './fixtures.ts';
import {
  ORIGINS,
  SECURITY,
  SOCKET_PAIRS,
  errnoOf,
  schemeFamily,
  siblingScheme,
  type ErrorCell,
  type LifecycleName,
  type PairName,
  type Row,
  type SecurityName,
  type TransportCell,
} from './table.ts';

const { os } = zmq;

export type Outcome = { status: 'passed'; ms: number } | { status: 'failed'; reason: string; ms: number };

/** Runs a cell on a fresh Accounting; whatever happens, it is finished and its problems reported. */
export function run(body: (accounting: Accounting) => void): Outcome {
  const started = Date.now();
  const problems: string[] = [];
  const accounting = new Accounting();
  try {
    body(accounting);
  } catch (error) {
    problems.push(describe(error));
  } finally {
    problems.push(...accounting.finish());
  }
  const ms = Date.now() - started;
  return problems.length === 0 ? { status: 'passed', ms } : { status: 'failed', reason: problems.join('; '), ms };
}

/** How long to watch for an event that must not come (a reconnect, with ZMQ_RECONNECT_IVL at 1 ms, would come at once). */
const ABSENCE_WINDOW_MS = 100;

// ---- exchanging messages ------------------------------------------------------------

const text = (frames: Buffer[]): string => frames.map(String).join('|');

function expectMessage(socket: zmq.Socket, expected: readonly string[], what: string): Buffer[] {
  const frames = socket.recvMessage();
  check(text(frames) === expected.join('|'), `${what}: received [${text(frames)}], expected [${expected.join('|')}]`);
  return frames;
}

interface PairBehaviour {
  /** Options that must be set before the sockets connect. */
  setup?: (bound: zmq.Socket, connecting: zmq.Socket) => void;
  /** One message each way, or as far as the pattern allows. */
  exchange: (bound: zmq.Socket, connecting: zmq.Socket) => void;
}

const ROUTING_ID = 'dealer-1';

/** A ZMQ_STREAM notification, [routing id, ""]: a connection began or ended. Returns the routing id. */
function notification(socket: zmq.Socket, what: string): Buffer {
  const [id, empty, ...rest] = socket.recvMessage();
  check(id !== undefined && empty?.length === 0 && rest.length === 0, `STREAM: no ${what} notification`);
  return id;
}

/**
 * Raw bytes over ZMQ_STREAM: each side first gets a connect notification,
 * then the other side's bytes under that routing id (TCP may split them).
 * Returns the routing id by which each side knows the other.
 */
function streamExchange(bound: zmq.Socket, connecting: zmq.Socket): { bound: Buffer; connecting: Buffer } {
  const boundId = notification(bound, 'bound side connect');
  const connectingId = notification(connecting, 'connecting side connect');
  const bytes = (socket: zmq.Socket, id: Buffer, expected: string): void => {
    let got = '';
    while (got.length < expected.length) {
      const [from, data] = socket.recvMessage();
      check(from?.equals(id), 'STREAM: bytes under an unknown routing id');
      got += String(data);
    }
    check(got === expected, `STREAM: received "${got}", expected "${expected}"`);
  };
  connecting.send([connectingId, 'ping']);
  bytes(bound, boundId, 'ping');
  bound.send([boundId, 'pong']);
  bytes(connecting, connectingId, 'pong');
  return { bound: boundId, connecting: connectingId };
}

const PAIRS: Record<PairName, PairBehaviour> = {
  PAIR: {
    exchange(bound, connecting) {
      connecting.send(['ping', 'two frames']);
      expectMessage(bound, ['ping', 'two frames'], 'PAIR');
      bound.send('pong');
      expectMessage(connecting, ['pong'], 'PAIR');
    },
  },
  'REQ/REP': {
    exchange(rep, req) {
      req.send('ping');
      expectMessage(rep, ['ping'], 'REP');
      rep.send('pong');
      expectMessage(req, ['pong'], 'REQ');
    },
  },
  'DEALER/ROUTER': {
    setup: (_router, dealer) => void dealer.set('ROUTING_ID', ROUTING_ID),
    exchange(router, dealer) {
      dealer.send('ping');
      const [id] = expectMessage(router, [ROUTING_ID, 'ping'], 'ROUTER');
      router.send([id ?? '', 'pong']);
      expectMessage(dealer, ['pong'], 'DEALER');
    },
  },
  'PUSH/PULL': {
    exchange(pull, push) {
      push.send(['ping', 'two frames']);
      expectMessage(pull, ['ping', 'two frames'], 'PULL');
    },
  },
  'PUB/SUB': {
    setup: (_pub, sub) => void sub.set('SUBSCRIBE', 'topic'),
    // A subscription reaches the publisher some time after the connection
    // (the slow joiner): publish until one arrives, within the usual bound,
    // with an unsubscribed message each time that must never arrive.
    exchange(pub, sub) {
      const frames = zmq.waitUntil('a published message at the subscriber', () => {
        pub.send(['other', 'not subscribed']);
        pub.send(['topic', 'ping']);
        return sub.readable ? sub.recvMessage() : undefined;
      });
      check(text(frames) === 'topic|ping', `SUB: received [${text(frames)}], expected [topic|ping]`);
    },
  },
  STREAM: { exchange: (bound, connecting) => void streamExchange(bound, connecting) },
};

/** The subject's and the peer's socket types for a pair in a role. */
function typesFor(pair: PairName, role: Row['role']): [zmq.SocketType, zmq.SocketType] {
  const { bound, connecting } = SOCKET_PAIRS[pair];
  return role === 'bind' ? [bound, connecting] : [connecting, bound];
}

/** Puts the sockets back in pattern order: [bound-type socket, connecting-type socket]. */
const inPatternOrder = (role: Row['role'], subject: zmq.Socket, peer: zmq.Socket): [zmq.Socket, zmq.Socket] =>
  role === 'bind' ? [subject, peer] : [peer, subject];

// ---- security ------------------------------------------------------------------------

const ZAP_DOMAIN = 'zmq-fd-matrix';
const USER = 'admin';
const PASSWORD = 'secret';

/**
 * Makes `server` the PLAIN or CURVE server and `client` its client, and starts
 * the context's ZAP handler with what it allows: the one user, or the client's
 * key. The refused modes differ only in what the client presents.
 */
function secure(accounting: Accounting, mode: SecurityName, server: zmq.Socket, client: zmq.Socket): zmq.ZapHandler | undefined {
  if (mode === 'NULL') return undefined;
  server.set('ZAP_DOMAIN', ZAP_DOMAIN);
  if (mode === 'PLAIN' || mode === 'PLAIN, wrong password') {
    server.set('PLAIN_SERVER', 1);
    client.set('PLAIN_USERNAME', USER).set('PLAIN_PASSWORD', mode === 'PLAIN' ? PASSWORD : 'wrong');
    return accounting.ctx.zap({ plain: { [USER]: PASSWORD }, curve: [] });
  }
  const serverKeys = zmq.curveKeypair();
  const clientKeys = zmq.curveKeypair();
  server.set('CURVE_SERVER', 1).set('CURVE_SECRETKEY', serverKeys.secretKey);
  client.set('CURVE_PUBLICKEY', clientKeys.publicKey).set('CURVE_SECRETKEY', clientKeys.secretKey);
  client.set('CURVE_SERVERKEY', mode === 'CURVE' ? serverKeys.publicKey : zmq.curveKeypair().publicKey);
  return accounting.ctx.zap({ plain: {}, curve: [clientKeys.publicKey] });
}

/** The value HANDSHAKE_FAILED_* carries: the ZAP status code, or the ZMTP protocol error. */
const FAILURE_VALUE = { HANDSHAKE_FAILED_AUTH: 400, HANDSHAKE_FAILED_PROTOCOL: zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC } as const;

function exchangeCell(accounting: Accounting, row: Row, pair: PairName, security: SecurityName): void {
  const [subjectType, peerType] = typesFor(pair, row.role);
  const subject = accounting.ctx.socket(subjectType);
  const peer = accounting.ctx.socket(peerType);
  const behaviour = PAIRS[pair];
  behaviour.setup?.(...inPatternOrder(row.role, subject, peer));
  const zap = secure(accounting, security, subject, peer);
  const monitor = subject.monitor(['HANDSHAKE_FAILED_AUTH', 'HANDSHAKE_FAILED_PROTOCOL', 'HANDSHAKE_FAILED_NO_DETAIL', 'HANDSHAKE_SUCCEEDED']);
  const link = attach(accounting, row, subject, peer);

  const expected = SECURITY[security].expect;
  if (expected === 'pass') {
    accounting.expectAdopted(link.fd);
    behaviour.exchange(...inPatternOrder(row.role, subject, peer));
    const refused = zap?.stop().filter((d) => d.status !== '200') ?? [];
    check(refused.length === 0, `ZAP refused ${refused.map((d) => `${d.mechanism} ${d.identity}`).join(', ')}`);
    return;
  }

  // The DEALER sends (a ROUTER could not address anyone yet); the server's
  // monitor must report the failure, and nothing may arrive on either side.
  const [router, dealer] = inPatternOrder(row.role, subject, peer);
  // Without waiting: the failure may end a connection over a descriptor at any
  // moment, leaving the DEALER nobody to queue for (EAGAIN).
  try {
    dealer.send('must not pass', { timeoutMs: 0 });
  } catch (error) {
    if (!zmq.isZmqError(error) || error.code !== 'EAGAIN') throw error;
  }
  const failure = monitor.waitFor(expected);
  check(failure.value === FAILURE_VALUE[expected], `${expected} with value ${failure.value}, expected ${FAILURE_VALUE[expected]}`);
  check(!monitor.seen.some((e) => e.event === 'HANDSHAKE_SUCCEEDED'), 'the handshake succeeded');
  check(!router.readable && !dealer.readable, 'a message passed the failed handshake');
  const allowed = zap?.stop().filter((d) => d.status === '200') ?? [];
  check(allowed.length === 0, `ZAP allowed ${allowed.map((d) => `${d.mechanism} ${d.identity}`).join(', ')}`);
  if (row.role === 'connect') {
    // RFC.md 7.3: a handshake failure ends a connected descriptor like a peer close.
    accounting.waitClosed([link.fd], () => subject.processCommands());
    expectErrno(`zmq_disconnect(${link.endpoint}) after the failed handshake`, 'ENOENT', () => subject.disconnect(link.endpoint));
  }
}

// ---- lifecycle -------------------------------------------------------------------------

/** A subject and a peer (PAIR unless said otherwise) connected the row's way, with one message through. */
function connected(accounting: Accounting, row: Row, configure?: (subject: zmq.Socket) => void) {
  const subject = accounting.ctx.socket('PAIR');
  configure?.(subject);
  const monitor = subject.monitor();
  const peer = accounting.ctx.socket('PAIR');
  const link = attach(accounting, row, subject, peer);
  PAIRS.PAIR.exchange(...inPatternOrder(row.role, subject, peer));
  return { subject, peer, link, monitor };
}

/** What must hold once libzmq closed a bound UNIX path listener: the file is still there. */
function socketFileKept(link: Link): void {
  if (link.socketFile !== undefined) check(fs.existsSync(link.socketFile), `libzmq unlinked ${link.socketFile}, which it did not bind`);
}

/**
 * The first `event`, which must have `value` (unless undefined) and `endpoint`.
 * `socket`: made to process its commands while waiting, for events that
 * follow from work the socket does only then.
 */
function expectEvent(monitor: zmq.Monitor, event: zmq.EventName, value: number | undefined, endpoint: string, socket?: zmq.Socket): zmq.MonitorEvent {
  const e = socket
    ? zmq.waitUntil(`monitor event ${event}, with the socket processing its commands`, () => {
        socket.processCommands();
        while (monitor.next(0) !== undefined) {
          // Reads what has come so far.
        }
        return monitor.seen.find((seen) => seen.event === event);
      })
    : monitor.waitFor(event);
  check(e.endpoint === endpoint, `${event} for "${e.endpoint}", expected "${endpoint}"`);
  check(value === undefined || e.value === value, `${event} with value ${e.value}, expected ${value}`);
  return e;
}

/** Removes the subject's endpoint the role's way: zmq_unbind or zmq_disconnect. */
const remove = (subject: zmq.Socket, role: Row['role'], endpoint: string): zmq.Socket =>
  role === 'bind' ? subject.unbind(endpoint) : subject.disconnect(endpoint);

/** What must follow once the subject's connected descriptor ended for good (RFC.md 7.3): DISCONNECTED with the fd, the fd closed, zmq_disconnect ENOENT. */
function expectEnded(accounting: Accounting, subject: zmq.Socket, monitor: zmq.Monitor, link: Link, after: string): void {
  expectEvent(monitor, 'DISCONNECTED', link.fd, link.endpoint, subject);
  accounting.waitClosed([link.fd], () => subject.processCommands());
  expectErrno(`zmq_disconnect(${link.endpoint}) after ${after}`, 'ENOENT', () => subject.disconnect(link.endpoint));
}

/**
 * RFC.md section 6: once the application sees number N closed after the peer
 * ended the connection, a new connection with the same number connects,
 * works, and disconnects.
 */
function numberReused(accounting: Accounting, row: Row, pair: 'DEALER/ROUTER' | 'STREAM'): void {
  const [subjectType, peerType] = typesFor(pair, row.role);
  const subject = accounting.ctx.socket(subjectType);
  const { setup, exchange } = PAIRS[pair];
  const connection = (number?: number): { peer: zmq.Socket; link: Link } => {
    const peer = accounting.ctx.socket(peerType);
    setup?.(...inPatternOrder(row.role, subject, peer));
    const link = attach(accounting, row, subject, peer, { number });
    exchange(...inPatternOrder(row.role, subject, peer));
    return { peer, link };
  };
  const ended = connection();
  ended.peer.close();
  accounting.waitClosed([ended.link.fd], () => subject.processCommands());
  // Read first, so that the next notification the subject reads is the new connection's.
  if (pair === 'STREAM') notification(subject, 'disconnect');
  const { link } = connection(ended.link.fd);
  subject.disconnect(link.endpoint);
  accounting.waitClosed([link.fd], () => subject.processCommands());
}

const FANOUT = 3;

/** One subject with FANOUT descriptors of the row, each with its own peer. */
function fanout(accounting: Accounting, row: Row, subjectType: zmq.SocketType, peerType: zmq.SocketType, configurePeer: (peer: zmq.Socket, i: number) => void) {
  const subject = accounting.ctx.socket(subjectType);
  const peers = Array.from({ length: FANOUT }, (_, i) => {
    const peer = accounting.ctx.socket(peerType);
    configurePeer(peer, i);
    return peer;
  });
  const links = peers.map((peer) => attach(accounting, row, subject, peer));
  return { subject, peers, links };
}

const LIFECYCLE_CHECKS: Record<LifecycleName, (accounting: Accounting, row: Row) => void> = {
  'peer close'(accounting, row) {
    // ZMQ_RECONNECT_IVL of 1 ms: a reconnect, which must not happen, would show at once.
    const { subject, peer, link, monitor } = connected(accounting, row, (s) => s.set('RECONNECT_IVL', 1));
    peer.close();
    expectEnded(accounting, subject, monitor, link, 'the peer closed');
    monitor.drain(ABSENCE_WINDOW_MS);
    const order = monitor.seen.map((e) => e.event);
    const retried = order.filter((e) => e === 'CONNECT_DELAYED' || e === 'CONNECT_RETRIED');
    check(retried.length === 0, `the descriptor was reconnected: ${retried.join(', ')}`);
    expectEvent(monitor, 'CONNECTED', link.fd, link.endpoint);
    expectEvent(monitor, 'HANDSHAKE_SUCCEEDED', undefined, link.endpoint);
    const at = (event: zmq.EventName): number => order.indexOf(event);
    check(at('CONNECTED') < at('HANDSHAKE_SUCCEEDED') && at('HANDSHAKE_SUCCEEDED') < at('DISCONNECTED'), `events out of order: ${order.join(', ')}`);
  },
  'kept after peer close'(accounting, row) {
    const { subject, peer, link } = connected(accounting, row);
    peer.send('last words');
    // The linger lets the message leave before the connection closes.
    peer.close({ linger: zmq.DEFAULT_TIMEOUT_MS });
    // The I/O thread hands the message over before it closes the descriptor,
    // so once the descriptor is closed and the socket has processed what the
    // thread sent it (the endpoint's removal included), the message is there.
    accounting.waitClosed([link.fd], () => subject.processCommands());
    subject.processCommands();
    check(subject.readable, 'a message received before the peer closed was dropped with the endpoint');
    expectMessage(subject, ['last words'], 'after the peer closed');
  },
  close(accounting, row) {
    const { subject, link } = connected(accounting, row);
    subject.close();
    accounting.waitClosed([link.fd]);
    socketFileKept(link);
  },
  'unbind / disconnect'(accounting, row) {
    const { subject, link, monitor } = connected(accounting, row);
    if (row.role === 'bind') expectEvent(monitor, 'LISTENING', link.fd, link.endpoint);
    remove(subject, row.role, link.endpoint);
    accounting.waitClosed([link.fd], () => subject.processCommands());
    if (row.role === 'bind') expectEvent(monitor, 'CLOSED', link.fd, link.endpoint);
    socketFileKept(link);
  },
  'ctx term'(accounting, row) {
    const { link } = connected(accounting, row);
    const id = accounting.identity(link.fd);
    accounting.ctx.term();
    check(!os.stillOpen(id), `fd ${link.fd} still open after zmq_ctx_term returned`);
    socketFileKept(link);
  },
  'last endpoint'(accounting, row) {
    const { subject, link } = connected(accounting, row);
    check(subject.lastEndpoint === link.endpoint, `ZMQ_LAST_ENDPOINT is "${subject.lastEndpoint}", expected "${link.endpoint}"`);
    const other = `${siblingScheme(row.scheme, ORIGINS[row.origin].family)}://${link.fd}`;
    expectErrno(`${row.role === 'bind' ? 'zmq_unbind' : 'zmq_disconnect'}(${other}) of ${link.endpoint}`, 'ENOENT', () => remove(subject, row.role, other));
    remove(subject, row.role, subject.lastEndpoint);
    accounting.waitClosed([link.fd], () => subject.processCommands());
  },
  'several fds'(accounting, row) {
    const { subject, peers, links } = fanout(accounting, row, 'PULL', 'PUSH', () => {});
    peers.forEach((peer, i) => peer.send(`from ${i}`));
    const got = peers.map(() => subject.recvString()).sort();
    check(got.join(',') === peers.map((_, i) => `from ${i}`).join(','), `PULL received ${got.join(', ')}`);
    subject.close();
    accounting.waitClosed(links.map((l) => l.fd));
  },
  'shut down by another holder'(accounting, row) {
    const { subject, link, monitor } = connected(accounting, row);
    const dup = accounting.track(os.dup(link.fd), `duplicate of fd ${link.fd}`);
    os.shutdown(dup);
    expectEvent(monitor, 'ACCEPT_FAILED', constants.errno.EINVAL, link.endpoint);
    accounting.waitClosed([link.fd], () => subject.processCommands());
    expectEvent(monitor, 'CLOSED', link.fd, link.endpoint);
    expectErrno(`zmq_unbind(${link.endpoint}) after the listener stopped`, 'ENOENT', () => subject.unbind(link.endpoint));
    // A listener that kept polling its hung-up socket would report failure after failure.
    const order = monitor.seen.map((e) => e.event);
    const failures = order.slice(0, order.indexOf('CLOSED')).filter((e) => e === 'ACCEPT_FAILED').length;
    check(failures === 1, `${failures} ACCEPT_FAILED events before CLOSED, expected 1: ${order.join(', ')}`);
    socketFileKept(link);
  },
  'disconnect in handshake'(accounting, row) {
    // ZMQ_HANDSHAKE_IVL 0: no time-out ends the handshake that the raw peer never answers; only the disconnect can.
    const subject = accounting.ctx.socket('PAIR').set('HANDSHAKE_IVL', 0);
    const monitor = subject.monitor(['CONNECTED']);
    const link = attach(accounting, row, subject, undefined);
    expectEvent(monitor, 'CONNECTED', link.fd, link.endpoint);
    subject.disconnect(link.endpoint);
    accounting.waitClosed([link.fd], () => subject.processCommands());
    // The default linger, which a handshake that still held the pipe would make zmq_ctx_term wait for.
    subject.close({ linger: -1 });
    accounting.ctx.term();
  },
  'STREAM close'(accounting, row) {
    const subject = accounting.ctx.socket('STREAM');
    const monitor = subject.monitor();
    const peer = accounting.ctx.socket('STREAM');
    const link = attach(accounting, row, subject, peer);
    const ids = streamExchange(...inPatternOrder(row.role, subject, peer));
    subject.send([row.role === 'bind' ? ids.bound : ids.connecting, '']);
    if (row.role === 'connect') expectEnded(accounting, subject, monitor, link, 'the STREAM socket closed it');
    else {
      // The connection the subject closed is the one it accepted.
      const accepted = monitor.waitFor('ACCEPTED');
      expectEvent(monitor, 'DISCONNECTED', accepted.value, accepted.endpoint, subject);
    }
  },
  'number reused, DEALER': (accounting, row) => numberReused(accounting, row, 'DEALER/ROUTER'),
  'number reused, STREAM': (accounting, row) => numberReused(accounting, row, 'STREAM'),
  'refused option'(accounting, row) {
    const subject = accounting.ctx.socket('PAIR').set('TCP_MAXRT', 1000);
    const monitor = subject.monitor();
    const peer = accounting.ctx.socket('PAIR');
    const peerMonitor = peer.monitor(['DISCONNECTED']);
    const link = attach(accounting, row, subject, peer);
    if (row.role === 'connect') expectEnded(accounting, subject, monitor, link, 'the option was refused');
    else {
      // The listener closes the connection it will not serve, so that the peer is not left waiting.
      expectEvent(monitor, 'ACCEPT_FAILED', constants.errno.ENOPROTOOPT, link.endpoint);
      peerMonitor.waitFor('DISCONNECTED');
    }
    check(!monitor.seen.some((e) => e.event === 'HANDSHAKE_SUCCEEDED'), 'a connection that refused ZMQ_TCP_MAXRT was served');
  },
  'ROUTER routing'(accounting, row) {
    const { subject, peers } = fanout(accounting, row, 'ROUTER', 'DEALER', (peer, i) => peer.set('ROUTING_ID', `peer-${i}`));
    peers.forEach((peer, i) => peer.send(`hello ${i}`));
    peers.forEach(() => {
      const [id, body] = subject.recvMessage();
      check(String(body) === `hello ${String(id).slice('peer-'.length)}`, `ROUTER got "${String(body)}" from ${String(id)}`);
      subject.send([id ?? '', `for ${String(id)}`]);
    });
    peers.forEach((peer, i) => expectMessage(peer, [`for peer-${i}`], `DEALER peer-${i}`));
  },
};

// ---- errors -------------------------------------------------------------------------------

function errorCell(accounting: Accounting, { case: c, role, scheme }: ErrorCell): void {
  // Sockets first: libzmq opens descriptors of its own, which could take a number the cell means to be closed.
  const subject = accounting.ctx.socket(c.socketType ?? 'PAIR');
  const other = c.already === 'other socket' || c.already === 'ZMQ_USE_FD' ? accounting.ctx.socket(c.socketType ?? 'PAIR') : subject;
  const monitor = c.monitored ? subject.monitor(['BIND_FAILED']) : undefined;
  const target = errorTarget(accounting, c.fixture, role, scheme);
  const endpoint = `${scheme}://${c.number ? c.number(target.fd) : target.fd}`;

  if (c.already === 'ZMQ_USE_FD') {
    bindWithUseFd(other, target.fd);
    accounting.adopted(target.fd);
  } else if (c.already !== undefined) {
    const first = c.already === 'same socket, other scheme' ? `${siblingScheme(scheme, schemeFamily(scheme))}://${target.fd}` : endpoint;
    accounting.handIn(other, role, first, target.fd);
  }
  const before = target.open ? { id: os.identify(target.fd), flags: os.flags(target.fd) } : undefined;
  const [call, attempt] =
    c.through === 'ZMQ_USE_FD'
      ? [`zmq_bind with ZMQ_USE_FD ${target.fd}`, () => bindWithUseFd(subject, target.fd)]
      : [`zmq_${role}(${endpoint})`, () => void (role === 'bind' ? subject.bind(endpoint) : subject.connect(endpoint))];
  const errno = errnoOf(c);
  expectErrno(call, errno, attempt, () => {
    if (target.open) accounting.adopted(target.fd);
  });

  if (before) {
    check(os.stillOpen(before.id), `${call} closed fd ${target.fd}`);
    const after = os.flags(target.fd);
    check(
      after.status === before.flags.status && after.descriptor === before.flags.descriptor,
      `${call} changed the flags of fd ${target.fd}: F_GETFL ${before.flags.status} → ${after.status}, F_GETFD ${before.flags.descriptor} → ${after.descriptor}`,
    );
  } else {
    check(!os.isOpen(target.fd), `fd ${target.fd} is open after ${call}`);
  }
  if (monitor) expectEvent(monitor, 'BIND_FAILED', constants.errno[errno as keyof typeof constants.errno], endpoint);
}

export function transportBody(cell: TransportCell): (accounting: Accounting) => void {
  return cell.kind === 'exchange'
    ? (accounting) => exchangeCell(accounting, cell.row, cell.pair, cell.security)
    : (accounting) => LIFECYCLE_CHECKS[cell.check](accounting, cell.row);
}

export const errorBody =
  (cell: ErrorCell): ((accounting: Accounting) => void) =>
  (accounting) =>
    errorCell(accounting, cell);
