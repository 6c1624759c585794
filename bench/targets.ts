// The targets of issue 10, each judged on the measured ratios: a report of
// what was met or missed, never a pass/fail of the run (a benchmark on a
// shared machine is no test).
import { SIZES, formatSize, type Size } from './plan.ts';
import { comparison, type Measured } from './results.ts';
import type { Ratio } from './stats.ts';

type Part = { label: string; ratio: Ratio };

export interface TargetResult {
  comparison: string;
  bound: { op: '≥' | '≤'; value: number };
  /** The ratios the target is judged on, e.g. one per message size. */
  parts: Part[];
  /** The worst of the parts. */
  measured: number;
  /** The 95% confidence interval of the worst part. */
  ci95: [number, number];
  met: boolean;
  /**
   * Whether the interval lies wholly on one side of the target: if not, this
   * run cannot tell met from missed, whatever the median says.
   */
  resolved: boolean;
}



interface TargetDef {
  comparison: string;
  bound: TargetResult['bound'];
  parts: (r: Measured) => Part[];
}

const everySize = (measure: 'throughput' | 'latency', a: 'fd-pair' | 'fd-tcp', b: 'ipc' | 'tcp') => (r: Measured) =>
  SIZES.map((size) => ({ label: formatSize(size), ratio: comparison(r, measure, a, b, size) }));

const atSize = (size: Size) => (r: Measured) => [{ label: formatSize(size), ratio: comparison(r, 'throughput', 'fd-pair', 'raw-pair', size) }];

export const TARGETS: readonly TargetDef[] = [
  { comparison: 'throughput, `fd://` (socketpair) vs `ipc://`, every size', bound: { op: '≥', value: 0.97 }, parts: everySize('throughput', 'fd-pair', 'ipc') },
  { comparison: 'throughput, `fd://` (TCP listener) vs `tcp://`, every size', bound: { op: '≥', value: 0.97 }, parts: everySize('throughput', 'fd-tcp', 'tcp') },
  { comparison: 'latency, `fd://` (socketpair) vs `ipc://`, every size', bound: { op: '≤', value: 1.03 }, parts: everySize('latency', 'fd-pair', 'ipc') },
  {
    comparison: 'setup rate, `fd://` (socketpair) vs `ipc://`',
    bound: { op: '≥', value: 1.5 },
    parts: (r) => r.setupRatios.filter((s) => s.a === 'fd').map((s) => ({ label: 'connections/s', ratio: s.ratio })),
  },
  { comparison: 'throughput at 1 MiB, `fd://` vs the raw socketpair limit', bound: { op: '≥', value: 0.8 }, parts: atSize(1048576) },
  { comparison: 'throughput at 64 KiB, `fd://` vs the raw socketpair limit', bound: { op: '≥', value: 0.6 }, parts: atSize(65536) },
  {
    comparison: 'memory per connection at the most peers, `fd://` vs `ipc://`',
    bound: { op: '≤', value: 1.0 },
    parts: (r) => {
      const most = r.scaleRatios.reduce((a, b) => (b.peers > a.peers ? b : a));
      return [{ label: `${most.peers} peers`, ratio: most.memory }];
    },
  },
];

export function evaluateTargets(report: Measured): TargetResult[] {
  return TARGETS.map((t) => {
    const parts = t.parts(report);
    const better = (x: number): boolean => (t.bound.op === '≥' ? x >= t.bound.value : x <= t.bound.value);
    const worse = (p: Part, q: Part): boolean => (t.bound.op === '≥' ? p.ratio.value < q.ratio.value : p.ratio.value > q.ratio.value);
    const worst = parts.reduce((w, p) => (worse(p, w) ? p : w));
    const [lo, hi] = worst.ratio.ci95;
    return {
      comparison: t.comparison,
      bound: t.bound,
      parts,
      measured: worst.ratio.value,
      ci95: worst.ratio.ci95,
      met: better(worst.ratio.value),
      resolved: better(lo) === better(hi),
    };
  });
}
