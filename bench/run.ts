// The schedule of a benchmark run: every cell repeated, the variants of one
// comparison alternating within each round (A B C A B C …), so that a drift
// in the machine's load hits all of them alike. One progress line per run.
import { elapsed, say } from '../scripts/lib/ui.ts';
import { ProcessHung } from './processes.ts';
import { latency, scale, setupRate, throughput, type Env, type ScaleRun, type ThroughputRun } from './measure.ts';
import { SCALES, SETUPS, SIZES, STREAMS, formatSize, type ScaleId, type SetupId, type Size, type StreamId } from './plan.ts';

/** A run that hung, was stopped and measured again: a finding in itself. */
export interface Incident {
  cell: string;
  round: number;
  message: string;
}

export interface Runs {
  throughput: { variant: StreamId; size: Size; runs: ThroughputRun[] }[];
  latency: { variant: StreamId; size: Size; runs: number[] }[];
  setup: { variant: SetupId; runs: number[] }[];
  scale: { variant: ScaleId; peers: number; runs: ScaleRun[] }[];
  incidents: Incident[];
}

const LATENCY_STREAMS = STREAMS.filter((s) => s.kind === 'zmq');

export function cellCount(env: Env): number {
  const { plan } = env;
  return (
    (STREAMS.length + LATENCY_STREAMS.length) * SIZES.length * plan.repeats +
    SETUPS.length * plan.setup.repeats +
    SCALES.length * plan.scale.peers.length * plan.scale.repeats
  );
}

const si = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0));

export async function runAll(env: Env): Promise<Runs> {
  const total = cellCount(env);
  const started = Date.now();
  const { plan } = env;
  const runs: Runs = { throughput: [], latency: [], setup: [], scale: [], incidents: [] };
  let done = 0;

  /**
   * Measures every variant `rounds` times, alternating (A B C A B C …), one
   * progress line each; returns the runs of each variant in the order of
   * `variants`. A run that hangs is stopped, reported, and measured again;
   * a second hang ends the benchmark.
   */
  async function alternate<V, R>(variants: readonly V[], rounds: number, label: (v: V) => string, measure: (v: V) => Promise<R>, show: (r: R) => string): Promise<R[][]> {
    const measured = variants.map(() => [] as R[]);
    for (let round = 1; round <= rounds; round++) {
      for (const [i, v] of variants.entries()) {
        const cell = label(v);
        let r: R;
        try {
          r = await measure(v);
        } catch (error) {
          if (!(error instanceof ProcessHung)) throw error;
          runs.incidents.push({ cell, round, message: error.message });
          say.warn(`${cell} #${round}: a process hung; it was stopped and the run is measured again (see "Incidents" in the report)`);
          r = await measure(v);
        }
        measured[i]?.push(r);
        done++;
        say.info(`[${String(done).padStart(String(total).length)}/${total}] ${`${cell} #${round}`.padEnd(58)} ${show(r).padStart(22)}  ${elapsed(started)}`);
      }
    }
    return measured;
  }

  say.step(`Throughput: local_thr/remote_thr and raw_thr, ${plan.repeats} rounds per size`);
  for (const size of SIZES) {
    const measured = await alternate(
      STREAMS,
      plan.repeats,
      (s) => `throughput ${formatSize(size).padEnd(6)} ${s.label}`,
      (s) => throughput(env, s, size),
      (r) => `${si(r.msgPerS)} msg/s ${((r.msgPerS * size) / 1e6).toFixed(0)} MB/s`,
    );
    runs.throughput.push(...STREAMS.map((s, i) => ({ variant: s.id, size, runs: measured[i] ?? [] })));
  }

  say.step(`Latency: local_lat/remote_lat, ${plan.repeats} rounds per size`);
  for (const size of SIZES) {
    const measured = await alternate(
      LATENCY_STREAMS,
      plan.repeats,
      (s) => `latency    ${formatSize(size).padEnd(6)} ${s.label}`,
      (s) => latency(env, s, size),
      (us) => `${us.toFixed(1)} µs`,
    );
    runs.latency.push(...LATENCY_STREAMS.map((s, i) => ({ variant: s.id, size, runs: measured[i] ?? [] })));
  }

  say.step(`Connection setup: ${plan.setup.connections} connections per run, ${plan.setup.repeats} rounds`);
  const setups = await alternate(
    SETUPS,
    plan.setup.repeats,
    (s) => `setup      ${s.label}`,
    (s) => setupRate(env, s.id),
    (rate) => `${si(rate)} conn/s`,
  );
  runs.setup.push(...SETUPS.map((s, i) => ({ variant: s.id, runs: setups[i] ?? [] })));

  say.step(`Scale: one ROUTER with ${plan.scale.peers.join(', ')} peers, ${plan.scale.repeats} rounds`);
  for (const peers of plan.scale.peers) {
    const measured = await alternate(
      SCALES,
      plan.scale.repeats,
      (s) => `scale      ${String(peers).padStart(6)} peers ${s.label}`,
      (s) => scale(env, s.id, peers),
      (r) => `${(r.setupUs / 1e3).toFixed(0)} ms, ${r.rssKiBPerPeer.toFixed(1)} KiB/peer`,
    );
    runs.scale.push(...SCALES.map((s, i) => ({ variant: s.id, peers, runs: measured[i] ?? [] })));
  }
  return runs;
}
