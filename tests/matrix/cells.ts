// What each column of the matrix does. A cell runs on its own bench (context,
// descriptor ledger) and either returns or throws; `run` turns that, plus the
// bench's end-of-cell checks, into the outcome the matrix records.
import fs from 'node:fs';
import { constants } from 'node:os';
import * as zmq from '../../harness/index.ts';
import { Bench, check, describe, expectErrno } from './bench.ts';
import { attach, errorTarget, type Link } from './fixtures.ts';
import {
  ORIGINS,
  SECURITY,
  SOCKET_PAIRS,
  errnoOf,
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

/** Runs a cell on a fresh bench; whatever happens, the bench is finished and its problems reported. */
export function run(body: (bench: Bench) => void): Outcome {
  const started = Date.now();
  const problems: string[] = [];
  const bench = new Bench();
  try {
    body(bench);
  } catch (error) {
    problems.push(describe(error));
  } finally {
    problems.push(...bench.finish());
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
  STREAM: {
    // Raw bytes: each side first gets a connect notification [routing id, ""],
    // then the other side's bytes under that id (TCP may split them).
    exchange(bound, connecting) {
      const notified = (socket: zmq.Socket, side: string): Buffer => {
        const [id, empty, ...rest] = socket.recvMessage();
        check(id !== undefined && empty?.length === 0 && rest.length === 0, `${side} STREAM: no connect notification`);
        return id;
      };
      const boundId = notified(bound, 'bound');
      const connectingId = notified(connecting, 'connecting');
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
    },
  },
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
function secure(bench: Bench, mode: SecurityName, server: zmq.Socket, client: zmq.Socket): zmq.ZapHandler | undefined {
  if (mode === 'NULL') return undefined;
  server.set('ZAP_DOMAIN', ZAP_DOMAIN);
  if (mode === 'PLAIN' || mode === 'PLAIN, wrong password') {
    server.set('PLAIN_SERVER', 1);
    client.set('PLAIN_USERNAME', USER).set('PLAIN_PASSWORD', mode === 'PLAIN' ? PASSWORD : 'wrong');
    return bench.ctx.zap({ plain: { [USER]: PASSWORD }, curve: [] });
  }
  const serverKeys = zmq.curveKeypair();
  const clientKeys = zmq.curveKeypair();
  server.set('CURVE_SERVER', 1).set('CURVE_SECRETKEY', serverKeys.secretKey);
  client.set('CURVE_PUBLICKEY', clientKeys.publicKey).set('CURVE_SECRETKEY', clientKeys.secretKey);
  client.set('CURVE_SERVERKEY', mode === 'CURVE' ? serverKeys.publicKey : zmq.curveKeypair().publicKey);
  return bench.ctx.zap({ plain: {}, curve: [clientKeys.publicKey] });
}

/** The value HANDSHAKE_FAILED_* carries: the ZAP status code, or the ZMTP protocol error. */
const FAILURE_VALUE = { HANDSHAKE_FAILED_AUTH: 400, HANDSHAKE_FAILED_PROTOCOL: zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC } as const;

function exchangeCell(bench: Bench, row: Row, pair: PairName, security: SecurityName): void {
  const [subjectType, peerType] = typesFor(pair, row.role);
  const subject = bench.ctx.socket(subjectType);
  const peer = bench.ctx.socket(peerType);
  const behaviour = PAIRS[pair];
  behaviour.setup?.(...inPatternOrder(row.role, subject, peer));
  const zap = secure(bench, security, subject, peer);
  const monitor = subject.monitor(['HANDSHAKE_FAILED_AUTH', 'HANDSHAKE_FAILED_PROTOCOL', 'HANDSHAKE_FAILED_NO_DETAIL', 'HANDSHAKE_SUCCEEDED']);
  const link = attach(bench, row, subject, peer);

  const expected = SECURITY[security].expect;
  if (expected === 'pass') {
    bench.expectAdopted(link.fd);
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
    bench.waitClosed([link.fd], () => subject.processCommands());
    expectErrno(`zmq_disconnect(${link.endpoint}) after the failed handshake`, 'ENOENT', () => subject.disconnect(link.endpoint));
  }
}

// ---- lifecycle -------------------------------------------------------------------------

/** A subject and a peer (PAIR unless said otherwise) connected the row's way, with one message through. */
function connected(bench: Bench, row: Row, configure?: (subject: zmq.Socket) => void) {
  const subject = bench.ctx.socket('PAIR');
  configure?.(subject);
  const monitor = subject.monitor();
  const peer = bench.ctx.socket('PAIR');
  const link = attach(bench, row, subject, peer);
  PAIRS.PAIR.exchange(...inPatternOrder(row.role, subject, peer));
  return { subject, peer, link, monitor };
}

/** What must hold once libzmq closed a bound UNIX path listener: the file is still there. */
function socketFileKept(link: Link): void {
  if (link.socketFile !== undefined) check(fs.existsSync(link.socketFile), `libzmq unlinked ${link.socketFile}, which it did not bind`);
}

function expectEvent(monitor: zmq.Monitor, event: zmq.EventName, value: number | undefined, endpoint: string): zmq.MonitorEvent {
  const e = monitor.waitFor(event);
  check(e.endpoint === endpoint, `${event} for "${e.endpoint}", expected "${endpoint}"`);
  check(value === undefined || e.value === value, `${event} with value ${e.value}, expected ${value}`);
  return e;
}

/** Removes the subject's endpoint the role's way: zmq_unbind or zmq_disconnect. */
const remove = (subject: zmq.Socket, role: Row['role'], endpoint: string): zmq.Socket =>
  role === 'bind' ? subject.unbind(endpoint) : subject.disconnect(endpoint);

const FANOUT = 3;

/** One subject with FANOUT descriptors of the row, each with its own peer. */
function fanout(bench: Bench, row: Row, subjectType: zmq.SocketType, peerType: zmq.SocketType, configurePeer: (peer: zmq.Socket, i: number) => void) {
  const subject = bench.ctx.socket(subjectType);
  const peers = Array.from({ length: FANOUT }, (_, i) => {
    const peer = bench.ctx.socket(peerType);
    configurePeer(peer, i);
    return peer;
  });
  const links = peers.map((peer) => attach(bench, row, subject, peer));
  return { subject, peers, links };
}

const LIFECYCLE_CHECKS: Record<LifecycleName, (bench: Bench, row: Row) => void> = {
  'peer close'(bench, row) {
    // ZMQ_RECONNECT_IVL of 1 ms: a reconnect, which must not happen, would show at once.
    const { subject, peer, link, monitor } = connected(bench, row, (s) => s.set('RECONNECT_IVL', 1));
    peer.close();
    expectEvent(monitor, 'DISCONNECTED', link.fd, link.endpoint);
    bench.waitClosed([link.fd], () => subject.processCommands());
    expectErrno(`zmq_disconnect(${link.endpoint}) after the peer closed`, 'ENOENT', () => subject.disconnect(link.endpoint));
    monitor.drain(ABSENCE_WINDOW_MS);
    const order = monitor.seen.map((e) => e.event);
    const retried = order.filter((e) => e === 'CONNECT_DELAYED' || e === 'CONNECT_RETRIED');
    check(retried.length === 0, `the descriptor was reconnected: ${retried.join(', ')}`);
    expectEvent(monitor, 'CONNECTED', link.fd, link.endpoint);
    expectEvent(monitor, 'HANDSHAKE_SUCCEEDED', undefined, link.endpoint);
    const at = (event: zmq.EventName): number => order.indexOf(event);
    check(at('CONNECTED') < at('HANDSHAKE_SUCCEEDED') && at('HANDSHAKE_SUCCEEDED') < at('DISCONNECTED'), `events out of order: ${order.join(', ')}`);
  },
  'kept after peer close'(bench, row) {
    const { subject, peer, link } = connected(bench, row);
    peer.send('last words');
    // The linger lets the message leave before the connection closes.
    peer.close({ linger: zmq.DEFAULT_TIMEOUT_MS });
    // The I/O thread hands the message over before it closes the descriptor,
    // so once the descriptor is closed and the socket has processed what the
    // thread sent it (the endpoint's removal included), the message is there.
    bench.waitClosed([link.fd], () => subject.processCommands());
    subject.processCommands();
    check(subject.readable, 'a message received before the peer closed was dropped with the endpoint');
    expectMessage(subject, ['last words'], 'after the peer closed');
  },
  close(bench, row) {
    const { subject, link } = connected(bench, row);
    subject.close();
    bench.waitClosed([link.fd]);
    socketFileKept(link);
  },
  'unbind / disconnect'(bench, row) {
    const { subject, link, monitor } = connected(bench, row);
    if (row.role === 'bind') expectEvent(monitor, 'LISTENING', link.fd, link.endpoint);
    remove(subject, row.role, link.endpoint);
    bench.waitClosed([link.fd], () => subject.processCommands());
    if (row.role === 'bind') expectEvent(monitor, 'CLOSED', link.fd, link.endpoint);
    socketFileKept(link);
  },
  'ctx term'(bench, row) {
    const { link } = connected(bench, row);
    const id = bench.identity(link.fd);
    bench.ctx.term();
    check(!os.stillOpen(id), `fd ${link.fd} still open after zmq_ctx_term returned`);
    socketFileKept(link);
  },
  'last endpoint'(bench, row) {
    const { subject, link } = connected(bench, row);
    check(subject.lastEndpoint === link.endpoint, `ZMQ_LAST_ENDPOINT is "${subject.lastEndpoint}", expected "${link.endpoint}"`);
    const other = `${siblingScheme(row.scheme, ORIGINS[row.origin].family)}://${link.fd}`;
    expectErrno(`${row.role === 'bind' ? 'zmq_unbind' : 'zmq_disconnect'}(${other}) of ${link.endpoint}`, 'ENOENT', () => remove(subject, row.role, other));
    remove(subject, row.role, subject.lastEndpoint);
    bench.waitClosed([link.fd], () => subject.processCommands());
  },
  'several fds'(bench, row) {
    const { subject, peers, links } = fanout(bench, row, 'PULL', 'PUSH', () => {});
    peers.forEach((peer, i) => peer.send(`from ${i}`));
    const got = peers.map(() => subject.recvString()).sort();
    check(got.join(',') === peers.map((_, i) => `from ${i}`).join(','), `PULL received ${got.join(', ')}`);
    subject.close();
    bench.waitClosed(links.map((l) => l.fd));
  },
  'ROUTER routing'(bench, row) {
    const { subject, peers } = fanout(bench, row, 'ROUTER', 'DEALER', (peer, i) => peer.set('ROUTING_ID', `peer-${i}`));
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

function errorCell(bench: Bench, { case: c, role, scheme }: ErrorCell): void {
  // Sockets first: libzmq opens descriptors of its own, which could take a number the cell means to be closed.
  const subject = bench.ctx.socket(c.socketType ?? 'PAIR');
  const other = c.already === 'other socket' ? bench.ctx.socket(c.socketType ?? 'PAIR') : subject;
  const monitor = c.monitored ? subject.monitor(['BIND_FAILED']) : undefined;
  const target = errorTarget(bench, c.fixture, role, scheme);
  const endpoint = `${scheme}://${c.number ? c.number(target.fd) : target.fd}`;

  if (c.already !== undefined) {
    const family = scheme === 'ipc-fd' ? 'unix' : 'tcp';
    const first = c.already === 'same socket, other scheme' ? `${siblingScheme(scheme, family)}://${target.fd}` : endpoint;
    bench.handIn(other, role, first, target.fd);
  }
  const before = target.open ? { id: os.identify(target.fd), flags: os.flags(target.fd) } : undefined;
  const call = `zmq_${role}(${endpoint})`;
  const errno = errnoOf(c);
  expectErrno(call, errno, () => (role === 'bind' ? subject.bind(endpoint) : subject.connect(endpoint)), () => {
    if (target.open) bench.adopted(target.fd);
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

export function transportBody(cell: TransportCell): (bench: Bench) => void {
  return cell.kind === 'exchange'
    ? (bench) => exchangeCell(bench, cell.row, cell.pair, cell.security)
    : (bench) => LIFECYCLE_CHECKS[cell.check](bench, cell.row);
}

export const errorBody =
  (cell: ErrorCell): ((bench: Bench) => void) =>
  (bench) =>
    errorCell(bench, cell);
