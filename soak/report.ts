// The soak as people read it: reports/soak.md (start → end of every measure,
// the verdict) and reports/soak.svg (each measure against the cycles).
import { renderSvg, type ChartSpec } from '../scripts/lib/chart.ts';
import { RSS_SLACK_KIB, type Sample, type SoakResult } from './plan.ts';

export interface SoakReport {
  kind: 'zmq-fd-soak';
  startedAt: string;
  build: { base: string; variant: string; upstream: string; patches: number };
  soaks: SoakResult[];
}

const MEASURES: readonly { key: keyof Sample; label: string }[] = [
  { key: 'fds', label: 'open fds' },
  { key: 'rssKiB', label: 'RSS, KiB' },
  { key: 'pipes', label: 'pipes' },
  { key: 'live', label: 'live connections' },
];

const startEnd = (r: SoakResult, key: keyof Sample): string => {
  const first = r.samples[0];
  const last = r.samples.at(-1);
  return first && last ? `${first[key] ?? 'not counted'} → ${last[key] ?? 'not counted'}` : '–';
};

/** One line per soak for the console. */
export function summaryLine(r: SoakResult): string {
  const measures = MEASURES.map((m) => `${m.label} ${startEnd(r, m.key)}`).join(', ');
  return `${r.name}: ${r.samples.at(-1)?.cycle ?? 0}/${r.cycles} cycles in ${r.seconds.toFixed(1)} s; ${measures}; ${r.problems.length === 0 ? 'passed' : `FAILED: ${r.problems[0]}`}`;
}

export function renderMarkdown(report: SoakReport): string {
  const b = report.build;
  const lines = [
    '# zmq-fd soak',
    '',
    `Run ${report.startedAt.slice(0, 16).replace('T', ' ')} UTC on libzmq ${b.upstream} with ${b.patches} patches (${b.base}-${b.variant}).`,
    'Open fds must stay exactly at the baseline taken before the first cycle, pipes and live connections at 0, at every sample;',
    `RSS is judged only against gross growth (end at most ${RSS_SLACK_KIB / 1024} MiB above start).`,
    'Pipes are counted only where libzmq has upstream 959a1335 (after 4.3.5, or backported by the series): before it, zmq_socket_monitor_pipes_stats crashes the I/O thread when it meets a pipe that is ending.',
    '',
    `| soak | cycles | sampled every | time, s | ${MEASURES.map((m) => `${m.label} (start → end)`).join(' | ')} | verdict |`,
    `| --- | --- | --- | --- | ${MEASURES.map(() => '---').join(' | ')} | --- |`,
    ...report.soaks.map(
      (r) =>
        `| ${r.name} | ${r.samples.at(-1)?.cycle ?? 0} of ${r.cycles} | ${r.every} | ${r.seconds.toFixed(1)} | ${MEASURES.map((m) => startEnd(r, m.key)).join(' | ')} | ${r.problems.length === 0 ? 'passed' : '**failed**'} |`,
    ),
    '',
    ...report.soaks.flatMap((r) => [`## ${r.name}`, '', r.what, '', ...(r.problems.length === 0 ? ['No problem.'] : r.problems.map((p) => `- ${p}`)), '']),
    '![Open fds, RSS, pipes and live connections against cycles](soak.svg)',
    '',
  ];
  return lines.join('\n');
}

/** Each measure in its own panel, against the cycle, one line per soak. */
export function renderChart(report: SoakReport): Promise<string> {
  const values = report.soaks.flatMap((r) =>
    r.samples.flatMap((s) => MEASURES.flatMap((m) => (s[m.key] === null ? [] : [{ soak: r.name, cycle: s.cycle, measure: m.label, value: s[m.key] }]))),
  );
  const spec: ChartSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'zmq-fd soak: what must stay flat', subtitle: `${report.build.base}-${report.build.variant}, ${report.startedAt.slice(0, 10)}` },
    background: 'white',
    data: { values },
    facet: { row: { field: 'measure', type: 'nominal', sort: MEASURES.map((m) => m.label), title: null } },
    spec: {
      width: 520,
      height: 110,
      mark: { type: 'line', point: false },
      encoding: {
        x: { field: 'cycle', type: 'quantitative', title: 'cycle' },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: true }, axis: { format: ',d', tickMinStep: 1 } },
        color: { field: 'soak', type: 'nominal', title: 'soak' },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
  return renderSvg(spec);
}
