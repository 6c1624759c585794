// A benchmark report as people read it: reports/bench.md, the throughput
// chart (Vega-Lite, rendered to SVG in Node), and the summary that
// `--publish` puts in the README.
import { renderSvg, type ChartSpec } from '../scripts/lib/chart.ts';
import { elapsed } from '../scripts/lib/ui.ts';
import { SCALES, SETUPS, SIZES, STREAMS, formatSize, streamLabel, type StreamId } from './plan.ts';
import { LATENCY_PAIRS, THROUGHPUT_PAIRS, comparison, pairLabel, type BenchReport, type Comparison, type LatencyCell, type ThroughputCell } from './results.ts';
import type { Ratio, Summary } from './stats.ts';
import type { TargetResult } from './targets.ts';

const fixed = (n: number, digits: number): string => n.toFixed(digits);
/** Three significant digits at most, no exponent: 0.123, 12.3, 1234. */
const sig = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n >= 1 ? n.toFixed(2) : n.toFixed(3));
const summary = (s: Summary, f: (n: number) => string = sig): string => `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
const ratioText = (r: Ratio): string => `${fixed(r.value, 2)} (${fixed(r.roundsMin, 2)}–${fixed(r.roundsMax, 2)})`;

function table(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

const sizeHead = SIZES.map(formatSize);

function cellOf<T extends { variant: StreamId; size: number }>(cells: readonly T[], variant: StreamId, size: number): T | undefined {
  return cells.find((c) => c.variant === variant && c.size === size);
}

function bySize<T extends { variant: StreamId; size: number }>(cells: readonly T[], variants: readonly StreamId[], show: (c: T) => string): string[][] {
  return variants.map((v) => [streamLabel(v), ...SIZES.map((size) => { const c = cellOf(cells, v, size); return c ? show(c) : '–'; })]);
}

function ratioRows(report: BenchReport, measure: Comparison['measure'], pairs: readonly [StreamId, StreamId][]): string[][] {
  return pairs.map(([a, b]) => [pairLabel(a, b), ...SIZES.map((size) => ratioText(comparison(report, measure, a, b, size)))]);
}

/** Met or missed on the median; "within noise" when the interval straddles the target. */
function verdict(t: TargetResult, strong: string): string {
  const word = t.met ? 'met' : `${strong}missed${strong}`;
  return t.resolved ? word : `${word}, within noise`;
}

export function targetRows(targets: readonly TargetResult[]): string[] {
  return table(
    ['comparison', 'target', 'measured', '95% CI', ''],
    targets.map((t) => [
      t.comparison,
      `${t.bound.op} ${t.bound.value}`,
      t.parts.length === 1
        ? `**${fixed(t.measured, 3)}**`
        : `**${fixed(t.measured, 3)}** (${t.parts.map((p) => `${p.label}: ${fixed(p.ratio.value, 3)}`).join(', ')})`,
      `${fixed(t.ci95[0], 3)}–${fixed(t.ci95[1], 3)}`,
      verdict(t, '**'),
    ]),
  );
}

const mbps = (c: ThroughputCell): string => summary(c.mbPerS);

/** The run in one paragraph: machine, build, load, duration. */
export function provenance(report: BenchReport): string {
  const m = report.machine;
  const load = (l: BenchReport['load']['before']): string =>
    `${l.average.map((x) => x.toFixed(2)).join(' / ')}${l.busy.length ? `, busy: ${l.busy.map((b) => `${b.command.split(' ').slice(0, 3).join(' ')} ${b.percent}%`).join('; ')}` : ', nothing else busy'}`;
  return [
    `Measured ${report.startedAt.slice(0, 16).replace('T', ' ')} UTC on ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.system}, ${m.kernel}, Node ${m.node};`,
    `libzmq ${report.build.upstream} with ${report.build.patches} patches (${report.build.base}-${report.build.variant}).`,
    `Load average (1/5/15 min) at the start ${load(report.load.before)}; at the end ${load(report.load.after)}.`,
    `\`npm run bench\` took ${elapsed(Date.now() - report.seconds * 1000)}.`,
  ].join('\n');
}

export function renderMarkdown(report: BenchReport): string {
  const p = report.plan;
  const lines: string[] = [`# zmq-fd benchmark${p.name === 'smoke' ? ' (smoke run: tiny counts, the numbers mean nothing)' : ''}`, '', provenance(report), ''];
  lines.push(
    `Every cell ran ${p.repeats} times (setup ${p.setup.repeats}, scale ${p.scale.repeats}), the variants alternating within each round;`,
    'cells show the median (min–max). Ratios are median over median, with the range of the ratios within each round in brackets.',
    'A target\'s 95% CI comes from a paired bootstrap over the rounds; "within noise" means the interval reaches across the target, so this run cannot tell met from missed.',
    '',
    '## Targets',
    '',
    ...targetRows(report.targets),
    '',
    '## Throughput',
    '',
    `MB/s of payload (10^6 B/s), local_thr/remote_thr over each transport, raw_thr for the raw limits. Messages per run: ${SIZES.map((s) => `${formatSize(s)} ${p.throughputCount[s]}`).join(', ')}.`,
    '',
    ...table(['transport', ...sizeHead], bySize(report.throughput, STREAMS.map((s) => s.id), mbps)),
    '',
    ...table(['ratio (throughput)', ...sizeHead], ratioRows(report, 'throughput', THROUGHPUT_PAIRS)),
    '',
    '## Latency',
    '',
    `One-way µs (half the mean round trip), local_lat/remote_lat. Round trips per run: ${SIZES.map((s) => `${formatSize(s)} ${p.latencyCount[s]}`).join(', ')}.`,
    '',
    ...table(
      ['transport', ...sizeHead],
      bySize<LatencyCell>(report.latency, STREAMS.filter((s) => s.kind === 'zmq').map((s) => s.id), (c) => summary(c.us)),
    ),
    '',
    ...table(['ratio (latency)', ...sizeHead], ratioRows(report, 'latency', LATENCY_PAIRS)),
    '',
    '## CPU per message',
    '',
    'User + system µs per message of both processes in the throughput runs (raw: writer and reader).',
    '',
    ...table(['transport', ...sizeHead], bySize(report.throughput, STREAMS.map((s) => s.id), (c) => summary(c.cpuUsPerMsg))),
    '',
    ...table(['ratio (CPU per message)', ...sizeHead], ratioRows(report, 'cpu per message', LATENCY_PAIRS)),
    '',
    '## Connection setup',
    '',
    `Connections per second: connect, ZMTP handshake, one message, disconnect; ${p.setup.connections} per run, ${p.setup.batch} at a time (bench/c/setup_rate.c).`,
    '',
    ...table(
      ['transport', 'connections/s', 'vs ipc://'],
      SETUPS.map((s) => {
        const cell = report.setup.find((c) => c.variant === s.id);
        const r = report.setupRatios.find((x) => x.a === s.id);
        return [s.label, cell ? summary(cell.perS) : '–', r ? ratioText(r.ratio) : '1'];
      }),
    ),
    '',
    '## Scale',
    '',
    `One ROUTER with N peers (bench/c/scale.c): setup until every peer's first message arrived, growth of the ROUTER process's resident set per peer, and one message to every peer and back (median of ${p.scale.rounds} rounds).`,
    '',
    ...table(
      ['peers', 'transport', 'setup ms', 'µs per peer', 'KiB per peer', 'round ms', 'µs per peer'],
      p.scale.peers.flatMap((peers) =>
        SCALES.map((s) => {
          const c = report.scale.find((x) => x.variant === s.id && x.peers === peers);
          if (!c) return [String(peers), s.label, '–', '–', '–', '–', '–'];
          return [String(peers), s.label, summary(c.setupMs), sig((c.setupMs.median * 1000) / peers), summary(c.rssKiBPerPeer), summary(c.roundMs), sig((c.roundMs.median * 1000) / peers)];
        }),
      ),
    ),
    '',
    ...table(
      ['peers', 'setup fd/ipc', 'memory fd/ipc', 'round fd/ipc'],
      report.scaleRatios.map((r) => [String(r.peers), ratioText(r.setup), ratioText(r.memory), ratioText(r.round)]),
    ),
    '',
    'Linearity: cost per peer at the most peers over cost per peer at the fewest (1.00: exactly linear).',
    '',
    ...table(
      ['transport', 'peers', 'setup', 'memory', 'round'],
      report.linearity.map((l) => [SCALES.find((s) => s.id === l.variant)?.label ?? l.variant, `${l.from} → ${l.to}`, fixed(l.setup, 2), fixed(l.memory, 2), fixed(l.round, 2)]),
    ),
    '',
    '## Incidents',
    '',
    report.incidents.length === 0
      ? 'None: no process hung.'
      : `${report.incidents.length} run(s) hung, were stopped at the time limit (${p.timeoutMs / 1000} s) and measured again:`,
    '',
    ...report.incidents.flatMap((i) => [`### ${i.cell.replace(/\s+/g, ' ')} #${i.round}`, '', '```', i.message, '```', '']),
  );
  return lines.join('\n');
}

/** The README's part: provenance, targets, the chart and the throughput table. */
export function renderReadmeSection(report: BenchReport, chart: string): string {
  return [
    provenance(report),
    '',
    ...targetRows(report.targets),
    '',
    'The 95% CI is a paired bootstrap over the rounds; "within noise": the interval reaches across the target.',
    '',
    `![Throughput by message size and transport, with the raw limits](${chart})`,
    '',
    ...table(['throughput, MB/s', ...sizeHead], bySize(report.throughput, STREAMS.map((s) => s.id), (c) => sig(c.mbPerS.median))),
  ].join('\n');
}

// Each family in its own hue, darkest for fd://; the raw limits dashed.
const COLORS: Record<StreamId, string> = {
  'fd-pair': '#08519c',
  ipc: '#6baed6',
  'fd-unix': '#3182bd',
  'raw-pair': '#08306b',
  'fd-tcp': '#a63603',
  tcp: '#fd8d3c',
  'raw-tcp': '#7f2704',
};

/** Throughput by size, one line per transport, min–max as error bars; SVG. */
export async function renderChart(report: BenchReport): Promise<string> {
  const values = report.throughput.map((c) => ({
    transport: streamLabel(c.variant),
    kind: STREAMS.find((s) => s.id === c.variant)?.kind === 'raw' ? 'raw write/read (the limit)' : 'ZeroMQ',
    size: formatSize(c.size),
    median: c.mbPerS.median,
    min: c.mbPerS.min,
    max: c.mbPerS.max,
  }));
  const x = { field: 'size', type: 'ordinal', sort: SIZES.map(formatSize), title: 'message size', axis: { labelAngle: 0 } } as const;
  const color = { field: 'transport', type: 'nominal', scale: { domain: STREAMS.map((s) => s.label), range: STREAMS.map((s) => COLORS[s.id]) }, title: 'transport' } as const;
  const spec: ChartSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'zmq-fd: throughput by message size',
      subtitle: `dashed: raw write/read, the limit; median of ${report.plan.repeats} runs, bars min–max; ${report.machine.cores} cores, ${report.startedAt.slice(0, 10)}`,
    },
    width: 560,
    height: 360,
    background: 'white',
    config: { legend: { labelLimit: 320 } },
    data: { values },
    encoding: { x, color },
    layer: [
      {
        mark: { type: 'line', point: true },
        encoding: {
          y: { field: 'median', type: 'quantitative', scale: { type: 'log' }, title: 'MB/s of payload (log scale)' },
          strokeDash: { field: 'kind', type: 'nominal', scale: { domain: ['ZeroMQ', 'raw write/read (the limit)'], range: [[1, 0], [6, 4]] }, legend: null },
        },
      },
      { mark: { type: 'rule' }, encoding: { y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } } },
    ],
  };
  return renderSvg(spec);
}

/** A few lines for the console at the end of a run. */
export function renderConsole(report: BenchReport): string[] {
  return report.targets.map((t) => `${(t.met ? 'met' : 'MISSED').padEnd(6)}  ${t.comparison.replaceAll('`', '')}: ${fixed(t.measured, 3)}, 95% CI ${fixed(t.ci95[0], 3)}–${fixed(t.ci95[1], 3)} (target ${t.bound.op} ${t.bound.value})${t.resolved ? '' : ', within noise'}`);
}
