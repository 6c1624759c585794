// What `npm run bench` measures: the transports, message sizes, counts and
// repeats, for the real run and for the smoke run that `npm test` makes.

/** How a stream of messages gets from one process to the other. */
export type StreamId = 'fd-pair' | 'fd-unix' | 'fd-tcp' | 'ipc' | 'tcp' | 'raw-pair' | 'raw-tcp';

export interface StreamVariant {
  id: StreamId;
  label: string;
  /** Socket family: ratios compare a variant with the baseline of its own family. */
  family: 'unix' | 'tcp';
  /** `raw`: raw_thr's plain write/read, the ceiling; no latency run. */
  kind: 'zmq' | 'raw';
}

/** In the order they alternate within each round. */
export const STREAMS: readonly StreamVariant[] = [
  { id: 'fd-pair', label: 'fd:// socketpair', family: 'unix', kind: 'zmq' },
  { id: 'ipc', label: 'ipc://', family: 'unix', kind: 'zmq' },
  { id: 'fd-unix', label: 'fd:// UNIX listener ← ipc://', family: 'unix', kind: 'zmq' },
  { id: 'raw-pair', label: 'raw socketpair', family: 'unix', kind: 'raw' },
  { id: 'fd-tcp', label: 'fd:// TCP listener ← tcp://', family: 'tcp', kind: 'zmq' },
  { id: 'tcp', label: 'tcp://', family: 'tcp', kind: 'zmq' },
  { id: 'raw-tcp', label: 'raw TCP', family: 'tcp', kind: 'raw' },
];

export const streamLabel = (id: StreamId): string => STREAMS.find((s) => s.id === id)?.label ?? id;

export type SetupId = 'fd' | 'ipc' | 'tcp';
export const SETUPS: readonly { id: SetupId; label: string }[] = [
  { id: 'fd', label: 'fd:// socketpair' },
  { id: 'ipc', label: 'ipc://' },
  { id: 'tcp', label: 'tcp://' },
];

export type ScaleId = 'fd' | 'ipc';
export const SCALES: readonly { id: ScaleId; label: string }[] = [
  { id: 'fd', label: 'fd:// socketpair' },
  { id: 'ipc', label: 'ipc://' },
];

export const SIZES = [64, 1024, 65536, 1048576] as const;
export type Size = (typeof SIZES)[number];

export interface Plan {
  name: 'full' | 'smoke';
  /** Each cell is measured this many times, the variants alternating (A B A B …). */
  repeats: number;
  /** Messages per throughput run (local_thr / remote_thr, raw_thr), by size. */
  throughputCount: Record<Size, number>;
  /** Round trips per latency run (local_lat / remote_lat), by size. */
  latencyCount: Record<Size, number>;
  setup: { connections: number; batch: number; repeats: number };
  scale: { peers: readonly number[]; rounds: number; repeats: number };
  /** Bound on any one process: only there so that a hung run fails. */
  timeoutMs: number;
}

// Counts give each zmq run about half a second on a quiet 2-core machine:
// long enough that process start-up does not count, short enough for 9
// repeats of every cell in about 6 minutes, well within the 15 minutes the
// whole run may take on a busier machine.
export const FULL: Plan = {
  name: 'full',
  repeats: 9,
  throughputCount: { 64: 1_200_000, 1024: 400_000, 65536: 20_000, 1048576: 1_500 },
  latencyCount: { 64: 8_000, 1024: 8_000, 65536: 4_000, 1048576: 600 },
  setup: { connections: 5_000, batch: 50, repeats: 9 },
  scale: { peers: [1_000, 5_000, 10_000], rounds: 5, repeats: 3 },
  timeoutMs: 30_000,
};

/** Every variant once with tiny counts: proves the benchmark runs, measures nothing. */
export const SMOKE: Plan = {
  name: 'smoke',
  repeats: 1,
  throughputCount: { 64: 1_000, 1024: 1_000, 65536: 100, 1048576: 10 },
  latencyCount: { 64: 50, 1024: 50, 65536: 20, 1048576: 5 },
  setup: { connections: 40, batch: 10, repeats: 1 },
  scale: { peers: [20, 40], rounds: 1, repeats: 1 },
  timeoutMs: 30_000,
};

export const formatSize = (bytes: number): string =>
  bytes >= 1048576 ? `${bytes / 1048576} MiB` : bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`;
