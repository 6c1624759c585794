// A raw peer: the test itself at the other end of a connection, writing and
// reading ZMTP 3.0 bytes (RFC 23) without libzmq, so that it can misbehave on
// purpose (one byte at a time, a garbage greeting, a half-close, a RST), and
// the few process-level calls the fault tests need (fork+exec, RLIMIT_NOFILE).
import { addon } from './addon.ts';
import { DEFAULT_TIMEOUT_MS, TimeoutError, remaining, waitUntil } from './wait.ts';

const C = addon.sysConstants;

export const write = (fd: number, data: Uint8Array): number => addon.sysWrite(fd, Buffer.from(data.buffer, data.byteOffset, data.byteLength));

/** Bytes the kernel holds for the reader of `fd` (FIONREAD). */
export const pending = (fd: number): number => addon.sysInq(fd);

/** shutdown(SHUT_WR): the other end reads end of file; this end can still read. */
export const shutdownWrite = (fd: number): void => addon.sysShutdown(fd, C.SHUT_WR);

/** SO_LINGER {1, 0}: close() then resets the connection (RST) instead of a FIN. */
export const setResetOnClose = (fd: number): void => addon.sysSetLinger(fd, 1, 0);

/** fork() and execv(argv); the exit status. */
export const forkExec = (argv: readonly string[]): number => addon.forkExec(argv);

/** Lowers this process's RLIMIT_NOFILE soft limit: for child processes only, never the test runner. */
export const setNofileLimit = (soft: number): void => addon.sysSetNofile(soft);

/**
 * Reads until `count` bytes came or end of file, waiting at most `timeoutMs`
 * in all. Returns what was read (shorter only at end of file).
 */
export function readBytes(fd: number, count: number, timeoutMs = DEFAULT_TIMEOUT_MS): Buffer {
  const deadline = Date.now() + timeoutMs;
  const parts: Buffer[] = [];
  for (let got = 0; got < count; ) {
    const chunk = readSome(fd, count - got, remaining(deadline));
    if (chunk === undefined) throw new TimeoutError(`fd ${fd}: ${count} bytes (got ${got})`, timeoutMs);
    if (chunk.length === 0) break;
    parts.push(chunk);
    got += chunk.length;
  }
  return Buffer.concat(parts);
}

/** One read() of at most `max` bytes: undefined if nothing came within `timeoutMs`, empty at end of file. */
export function readSome(fd: number, max: number, timeoutMs: number): Buffer | undefined {
  try {
    return addon.sysRead(fd, max, timeoutMs);
  } catch (error) {
    if ((error as { code?: string }).code === 'ETIMEDOUT') return undefined;
    throw error;
  }
}

/**
 * Writes `data` one byte per write(), each only once the reader of `readerFd`
 * (the other end, in this process) has taken the previous one: so that every
 * read() the reader makes returns exactly one byte. Returns the number of writes.
 */
export function writeByteByByte(fd: number, readerFd: number, data: Uint8Array): number {
  for (const [i, byte] of data.entries()) {
    write(fd, Uint8Array.of(byte));
    waitUntil(`the reader of fd ${readerFd} to take byte ${i + 1} of ${data.length}`, () => (pending(readerFd) === 0 ? true : undefined));
  }
  return data.length;
}

// ---- ZMTP 3.0 with the NULL mechanism ---------------------------------------

export const GREETING_SIZE = 64;

/**
 * What libzmq's ZMTP 3 engine writes first, before it has read the peer's
 * signature: 0xFF, the padding as a 64-bit length (routing id size + 1; 1 for
 * a socket with no routing id), 0x7F.
 */
export const LIBZMQ_SIGNATURE = Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f]);

/** signature (0xFF, 8 bytes padding, 0x7F), version 3.0, mechanism "NULL", as-server 0, filler. */
export function greeting(mechanism = 'NULL'): Buffer {
  const g = Buffer.alloc(GREETING_SIZE);
  g[0] = 0xff;
  g[9] = 0x7f;
  g[10] = 3;
  g[11] = 0;
  g.write(mechanism, 12, 'ascii');
  return g;
}

const FLAG_MORE = 0x01;
const FLAG_LONG = 0x02;
const FLAG_COMMAND = 0x04;

function frame(flags: number, body: Buffer): Buffer {
  if (body.length <= 255) return Buffer.concat([Buffer.of(flags, body.length), body]);
  const size = Buffer.alloc(8);
  size.writeBigUInt64BE(BigInt(body.length));
  return Buffer.concat([Buffer.of(flags | FLAG_LONG), size, body]);
}

/** The READY command, with the Socket-Type property (and nothing else). */
export function ready(socketType: string): Buffer {
  const name = Buffer.from('Socket-Type');
  const value = Buffer.from(socketType);
  const size = Buffer.alloc(4);
  size.writeUInt32BE(value.length);
  return frame(FLAG_COMMAND, Buffer.concat([Buffer.of(5), Buffer.from('READY'), Buffer.of(name.length), name, size, value]));
}

/** A message of one or more frames. */
export function message(...parts: (string | Uint8Array)[]): Buffer {
  return Buffer.concat(parts.map((p, i) => frame(i < parts.length - 1 ? FLAG_MORE : 0, Buffer.from(p))));
}

export interface ZmtpFrame {
  command: boolean;
  more: boolean;
  body: Buffer;
}

/** Splits the bytes after the greeting into frames; an incomplete last frame is left out. */
export function parseFrames(data: Buffer): ZmtpFrame[] {
  const frames: ZmtpFrame[] = [];
  for (let at = 0; at < data.length; ) {
    const flags = data[at] ?? 0;
    const long = (flags & FLAG_LONG) !== 0;
    const head = long ? 9 : 2;
    if (at + head > data.length) break;
    const size = long ? Number(data.readBigUInt64BE(at + 1)) : (data[at + 1] ?? 0);
    if (at + head + size > data.length) break;
    frames.push({ command: (flags & FLAG_COMMAND) !== 0, more: (flags & FLAG_MORE) !== 0, body: data.subarray(at + head, at + head + size) });
    at += head + size;
  }
  return frames;
}

/** Reads (bounded) until `count` whole frames came after whatever `data` holds; returns them all. */
export function readFrames(fd: number, count: number, timeoutMs = DEFAULT_TIMEOUT_MS): ZmtpFrame[] {
  const deadline = Date.now() + timeoutMs;
  let data = Buffer.alloc(0);
  for (let frames = parseFrames(data); ; frames = parseFrames(data)) {
    if (frames.length >= count) return frames;
    const chunk = readSome(fd, 65536, remaining(deadline));
    if (chunk === undefined) throw new TimeoutError(`fd ${fd}: ${count} ZMTP frames (got ${frames.length})`, timeoutMs);
    if (chunk.length === 0) throw new Error(`fd ${fd}: end of file after ${frames.length} of ${count} ZMTP frames`);
    data = Buffer.concat([data, chunk]);
  }
}

/** The command name of a command frame's body ("READY", "ERROR", …). */
export const commandName = (body: Buffer): string => body.subarray(1, 1 + (body[0] ?? 0)).toString('ascii');
