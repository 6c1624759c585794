// reports/bench.json: every run, summarised per cell (median, min, max), the
// ratios between variants of one family, linearity at scale, and the targets.
import type { Load, Machine } from './machine.ts';
import { SCALES, SETUPS, streamLabel, type Plan, type ScaleId, type SetupId, type Size, type StreamId } from './plan.ts';
import type { Incident, Runs } from './run.ts';
import { ratio, summarise, type Ratio, type Summary } from './stats.ts';
import type { TargetResult } from './targets.ts';

export interface ThroughputCell {
  variant: StreamId;
  size: Size;
  count: number;
  msgPerS: Summary;
  /** Payload bytes per second, in MB/s (10^6). */
  mbPerS: Summary;
  /** User + system µs per message, both processes. */
  cpuUsPerMsg: Summary;
}

export interface LatencyCell {
  variant: StreamId;
  size: Size;
  count: number;
  /** One-way µs, as remote_lat reports it. */
  us: Summary;
}

export interface SetupCell {
  variant: SetupId;
  connections: number;
  perS: Summary;
}

export interface ScaleCell {
  variant: ScaleId;
  peers: number;
  setupMs: Summary;
  rssKiBPerPeer: Summary;
  roundMs: Summary;
}

export interface Comparison {
  measure: 'throughput' | 'latency' | 'cpu per message';
  a: StreamId;
  b: StreamId;
  size: Size;
  ratio: Ratio;
}

/** Per-peer cost at the most peers over per-peer cost at the fewest: 1 is exactly linear. */
export interface Linearity {
  variant: ScaleId;
  from: number;
  to: number;
  setup: number;
  memory: number;
  round: number;
}

/** Everything measured and derived; the targets are judged on it (targets.ts). */
export interface Measured {
  kind: 'zmq-fd-bench';
  plan: Plan;
  startedAt: string;
  seconds: number;
  machine: Machine;
  load: { before: Load; after: Load };
  build: { base: string; variant: string; upstream: string; patches: number; library: string };
  throughput: ThroughputCell[];
  latency: LatencyCell[];
  setup: SetupCell[];
  scale: ScaleCell[];
  comparisons: Comparison[];
  setupRatios: { a: SetupId; b: SetupId; ratio: Ratio }[];
  scaleRatios: { peers: number; setup: Ratio; memory: Ratio; round: Ratio }[];
  linearity: Linearity[];
  /** Runs that hung and were measured again. */
  incidents: Incident[];
}

export interface BenchReport extends Measured {
  targets: TargetResult[];
}

/** Each variant against the baseline of its family, and against that family's raw limit. */
export const THROUGHPUT_PAIRS: readonly [StreamId, StreamId][] = [
  ['fd-pair', 'ipc'],
  ['fd-unix', 'ipc'],
  ['fd-tcp', 'tcp'],
  ['fd-pair', 'raw-pair'],
  ['ipc', 'raw-pair'],
  ['fd-tcp', 'raw-tcp'],
  ['tcp', 'raw-tcp'],
];
export const LATENCY_PAIRS: readonly [StreamId, StreamId][] = [
  ['fd-pair', 'ipc'],
  ['fd-unix', 'ipc'],
  ['fd-tcp', 'tcp'],
];

export const pairLabel = (a: StreamId, b: StreamId): string => `${streamLabel(a)} / ${streamLabel(b)}`;

function find<T>(cells: readonly T[], match: (c: T) => boolean, what: string): T {
  const cell = cells.find(match);
  if (!cell) throw new Error(`no ${what} in the results`);
  return cell;
}

export function buildReport(
  runs: Runs,
  meta: Pick<Measured, 'plan' | 'startedAt' | 'seconds' | 'machine' | 'load' | 'build'>,
): Measured {
  const { plan } = meta;
  const throughput: ThroughputCell[] = runs.throughput.map(({ variant, size, runs: r }) => ({
    variant,
    size,
    count: plan.throughputCount[size],
    msgPerS: summarise(r.map((x) => x.msgPerS)),
    mbPerS: summarise(r.map((x) => (x.msgPerS * size) / 1e6)),
    cpuUsPerMsg: summarise(r.map((x) => x.cpuUsPerMsg)),
  }));
  const latency: LatencyCell[] = runs.latency.map(({ variant, size, runs: r }) => ({ variant, size, count: plan.latencyCount[size], us: summarise(r) }));
  const setup: SetupCell[] = runs.setup.map(({ variant, runs: r }) => ({ variant, connections: plan.setup.connections, perS: summarise(r) }));
  const scale: ScaleCell[] = runs.scale.map(({ variant, peers, runs: r }) => ({
    variant,
    peers,
    setupMs: summarise(r.map((x) => x.setupUs / 1e3)),
    rssKiBPerPeer: summarise(r.map((x) => x.rssKiBPerPeer)),
    roundMs: summarise(r.map((x) => x.roundUs / 1e3)),
  }));

  const comparisons: Comparison[] = [];
  const sizes = [...new Set(throughput.map((c) => c.size))];
  for (const size of sizes) {
    const thr = (v: StreamId): ThroughputCell => find(throughput, (c) => c.variant === v && c.size === size, `throughput ${v} ${size}`);
    const lat = (v: StreamId): LatencyCell => find(latency, (c) => c.variant === v && c.size === size, `latency ${v} ${size}`);
    for (const [a, b] of THROUGHPUT_PAIRS) comparisons.push({ measure: 'throughput', a, b, size, ratio: ratio(thr(a).msgPerS, thr(b).msgPerS) });
    for (const [a, b] of LATENCY_PAIRS) {
      comparisons.push({ measure: 'latency', a, b, size, ratio: ratio(lat(a).us, lat(b).us) });
      comparisons.push({ measure: 'cpu per message', a, b, size, ratio: ratio(thr(a).cpuUsPerMsg, thr(b).cpuUsPerMsg) });
    }
  }

  const setupOf = (v: SetupId): SetupCell => find(setup, (c) => c.variant === v, `setup ${v}`);
  const setupRatios = SETUPS.filter((s) => s.id !== 'ipc').map((s) => ({ a: s.id, b: 'ipc' as const, ratio: ratio(setupOf(s.id).perS, setupOf('ipc').perS) }));

  const scaleOf = (v: ScaleId, peers: number): ScaleCell => find(scale, (c) => c.variant === v && c.peers === peers, `scale ${v} ${peers}`);
  const scaleRatios = plan.scale.peers.map((peers) => {
    const fd = scaleOf('fd', peers);
    const ipc = scaleOf('ipc', peers);
    return { peers, setup: ratio(fd.setupMs, ipc.setupMs), memory: ratio(fd.rssKiBPerPeer, ipc.rssKiBPerPeer), round: ratio(fd.roundMs, ipc.roundMs) };
  });
  const from = Math.min(...plan.scale.peers);
  const to = Math.max(...plan.scale.peers);
  const linearity = SCALES.map(({ id }) => {
    const small = scaleOf(id, from);
    const large = scaleOf(id, to);
    const perPeer = (s: Summary, peers: number): number => s.median / peers;
    return {
      variant: id,
      from,
      to,
      setup: perPeer(large.setupMs, to) / perPeer(small.setupMs, from),
      memory: large.rssKiBPerPeer.median / small.rssKiBPerPeer.median,
      round: perPeer(large.roundMs, to) / perPeer(small.roundMs, from),
    };
  });

  return { kind: 'zmq-fd-bench', ...meta, throughput, latency, setup, scale, comparisons, setupRatios, scaleRatios, linearity, incidents: runs.incidents };
}

/** The comparison of `a` with `b` for `measure` at `size`. */
export function comparison(report: Pick<Measured, 'comparisons'>, measure: Comparison['measure'], a: StreamId, b: StreamId, size: Size): Ratio {
  return find(report.comparisons, (c) => c.measure === measure && c.a === a && c.b === b && c.size === size, `${measure} ${a}/${b} at ${size}`).ratio;
}
