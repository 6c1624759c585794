// What every cell runs on: its own context, a ledger of the descriptors it
// made (and which of them it handed to libzmq), scratch paths, and the checks
// that every cell ends with: no descriptor leaked, none closed twice, every
// adopted one closed by libzmq.
import fs from 'node:fs';
import path from 'node:path';
import * as zmq from '../../harness/index.ts';

const { os } = zmq;

/** A cell's failure, with the one-line reason the matrix shows. */
export class CellFailure extends Error {
  override name = 'CellFailure';
}

export function check(condition: unknown, reason: string): asserts condition {
  if (!condition) throw new CellFailure(reason);
}

/** "zmq_bind(fd://37): EINVAL", for a ZmqError; the message otherwise. */
export function describe(error: unknown): string {
  if (error instanceof CellFailure) return error.message;
  if (zmq.isZmqError(error)) {
    const call = error.endpoint === undefined ? error.syscall : `${error.syscall}(${error.endpoint})`;
    return `${call}: ${error.code} (${error.message})`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Runs `call`, which must fail with errno `code`; `onSuccess` runs if it does not, before the cell fails. */
export function expectErrno(what: string, code: string, call: () => void, onSuccess?: () => void): void {
  try {
    call();
  } catch (error) {
    if (zmq.isZmqError(error) && error.code === code) return;
    throw new CellFailure(`${what}: expected ${code}, got ${zmq.isZmqError(error) ? error.code : describe(error)}`);
  }
  onSuccess?.();
  throw new CellFailure(`${what}: succeeded, expected ${code}`);
}

interface Tracked {
  id: zmq.os.FdIdentity;
  what: string;
  /** Who must close it: the test, or libzmq once it was handed in successfully. */
  owner: 'test' | 'libzmq';
}

// One scratch folder per test process for UNIX socket paths, in /tmp rather
// than $TMPDIR, which may be long (sun_path holds 108 bytes); and a counter
// that keeps paths and abstract names unique.
let scratch: string | undefined;
let names = 0;

export function removeScratch(): void {
  if (scratch !== undefined) fs.rmSync(scratch, { recursive: true, force: true });
}

export class Accounting {
  readonly #before = os.openFds();
  // Created after the fd snapshot: a context opens descriptors of its own.
  readonly ctx = new zmq.Context();
  readonly #tracked: Tracked[] = [];
  readonly #paths: string[] = [];

  /** Records a descriptor the test made; it is closed at the end of the cell unless libzmq adopted it. */
  track(fd: number, what: string): number {
    this.#tracked.push({ id: os.identify(fd), what, owner: 'test' });
    return fd;
  }

  #entry(fd: number): Tracked {
    const entry = this.#tracked.findLast((t) => t.id.fd === fd);
    if (!entry) throw new Error(`fd ${fd} is not tracked by this cell`);
    return entry;
  }

  identity(fd: number): zmq.os.FdIdentity {
    return this.#entry(fd).id;
  }

  /** Hands `fd` to `socket` through `endpoint` (bind or connect); from then on libzmq must close it. */
  handIn(socket: zmq.Socket, role: 'bind' | 'connect', endpoint: string, fd: number): string {
    if (role === 'bind') socket.bind(endpoint);
    else socket.connect(endpoint);
    this.adopted(fd);
    return endpoint;
  }

  /** Records that libzmq took `fd` (also where it should not have): finish() must not close it. */
  adopted(fd: number): void {
    this.#entry(fd).owner = 'libzmq';
  }

  /** The test closes a descriptor it still owns (e.g. its own listener, once it accepted). */
  close(fd: number): void {
    const entry = this.#entry(fd);
    check(entry.owner === 'test', `the test tried to close fd ${fd}, which libzmq owns`);
    os.close(fd);
    this.#tracked.splice(this.#tracked.indexOf(entry), 1);
  }

  /**
   * Gives a descriptor the test owns the number `to` (dup2), and closes its
   * old number. `to` must be free, or held by the test (a sentinel), which
   * dup2 closes: so a number libzmq closed can be handed in again, as an
   * application that gets the same number back from the kernel would.
   */
  renumber(fd: number, to: number): number {
    if (fd === to) return fd;
    const held = this.#tracked.find((t) => t.id.fd === to && os.stillOpen(t.id));
    check(held ? held.owner === 'test' : !os.isOpen(to), `fd ${to} is in use: cannot give fd ${fd} that number`);
    const what = `${this.#entry(fd).what}, as fd ${to}`;
    os.dup2(fd, to);
    if (held) this.#tracked.splice(this.#tracked.indexOf(held), 1);
    this.close(fd);
    return this.track(to, what);
  }

  /** A fresh path for a UNIX socket or a file; removed at the end of the cell. */
  scratchPath(suffix = '.sock'): string {
    scratch ??= fs.mkdtempSync(path.join('/tmp', 'zmq-fd-matrix-'));
    const file = path.join(scratch, `${++names}${suffix}`);
    this.#paths.push(file);
    return file;
  }

  abstractName(): string {
    return `zmq-fd-matrix-${process.pid}-${++names}`;
  }

  /**
   * Waits (bounded) until libzmq has closed every one of `fds`: fstat fails,
   * or the number now refers to another file. `poke` makes the owning socket
   * process its commands, which some closes wait for. Then occupies each
   * number with a sentinel that must survive the rest of the cell: were libzmq
   * to close a number a second time, a sentinel would be the victim.
   */
  waitClosed(fds: readonly number[], poke?: () => void): void {
    const ids = fds.map((fd) => this.identity(fd));
    const what = fds.map((fd) => `${fd} (${this.#entry(fd).what})`).join(', ');
    zmq.waitUntil(`libzmq to close fd ${what}`, () => {
      if (!ids.some(os.stillOpen)) return true;
      poke?.();
      return undefined;
    });
    for (const fd of fds) this.#occupy(fd);
  }

  /**
   * Puts a sentinel on number `fd`. The kernel hands out the lowest free
   * number, which is `fd` only if no lower one is free: so open until it
   * comes, and close the fillers. A number that is open again already has
   * another owner, and is left to it.
   */
  #occupy(fd: number): void {
    const fillers: number[] = [];
    let sentinel = fs.openSync('/dev/null', 'r');
    for (; sentinel < fd; sentinel = fs.openSync('/dev/null', 'r')) fillers.push(sentinel);
    fillers.forEach((filler) => fs.closeSync(filler));
    if (sentinel === fd) this.track(fd, `sentinel after fd ${fd} closed`);
    else fs.closeSync(sentinel);
  }

  /** Whether libzmq's flags on an adopted descriptor are set (RFC.md section 6), read only while the number is still the same file. */
  expectAdopted(fd: number): void {
    const id = this.identity(fd);
    const flags = os.flags(fd);
    check(os.stillOpen(id), `fd ${fd} was closed right after it was handed in`);
    check(flags.nonblocking && flags.cloexec, `fd ${fd} adopted without ${flags.nonblocking ? '' : 'O_NONBLOCK '}${flags.cloexec ? '' : 'FD_CLOEXEC'}`.trim());
  }

  /**
   * Ends the cell: terminates the context, closes what the test still owns,
   * then compares the open descriptors with those at the start. Returns the
   * problems found (none: the cell leaked nothing and closed nothing twice).
   */
  finish(): string[] {
    const problems: string[] = [];
    try {
      this.ctx.term();
    } catch (error) {
      problems.push(`zmq_ctx_term: ${describe(error)}`);
    }
    for (const t of this.#tracked) {
      const open = os.stillOpen(t.id);
      if (t.owner === 'libzmq' && open) {
        problems.push(`libzmq did not close fd ${t.id.fd} (${t.what}) by the end of zmq_ctx_term`);
        os.close(t.id.fd);
      } else if (t.owner === 'test' && !open) {
        problems.push(`fd ${t.id.fd} (${t.what}), which the test owned, was closed by someone else`);
      } else if (t.owner === 'test') {
        os.close(t.id.fd);
      }
    }
    for (const file of this.#paths) fs.rmSync(file, { force: true });
    problems.push(...fdChanges(this.#before, os.openFds()));
    return problems;
  }
}

/** Descriptors opened and not closed, or closed that were open before, between two snapshots. */
function fdChanges(before: Map<number, string>, after: Map<number, string>): string[] {
  const leaked = [...after].filter(([fd, target]) => before.get(fd) !== target);
  const lost = [...before].filter(([fd, target]) => after.get(fd) !== target);
  if (leaked.length === 0 && lost.length === 0) return [];
  const list = (fds: [number, string][]): string => fds.map(([fd, target]) => `${fd} → ${target}`).join(', ');
  return [
    `open fds ${before.size} before, ${after.size} after` +
      (leaked.length > 0 ? `; leaked: ${list(leaked)}` : '') +
      (lost.length > 0 ? `; closed, though open before the cell: ${list(lost)}` : ''),
  ];
}
