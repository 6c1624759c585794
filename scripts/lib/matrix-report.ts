// The conformance matrix's record (reports/matrix.jsonl, written by the cells
// in tests/matrix.test.ts) and its two renderings: reports/matrix.md and the
// compact table `npm test` prints. The record is JSON Lines, appended to as
// cells finish, so that a test process that dies (a libzmq assertion aborts
// it) leaves what ran, and the cells that did not are shown as not run.
import fs from 'node:fs';
import path from 'node:path';
import { paths } from './config.ts';

export const MATRIX_RECORD = path.join(paths.reports, 'matrix.jsonl');
export const MATRIX_MARKDOWN = path.join(paths.reports, 'matrix.md');

export interface ColumnDecl {
  name: string;
  /** Two characters, for the console table. */
  code: string;
  /** Columns of a group are shown together. */
  group: string;
  what?: string;
}

export interface GridDecl {
  name: string;
  rowHeading: string;
  columns: ColumnDecl[];
  /** How the console shows it: every cell, or one line per group of rows. */
  console: 'cells' | 'row groups';
}

export interface CellDecl {
  /** The ava test title; unique. */
  id: string;
  grid: string;
  row: string;
  /** For grids shown by row groups: the group this row counts in. */
  rowGroup?: string;
  column: string;
}

export interface MatrixHeader {
  type: 'matrix';
  startedAt: string;
  build: { base: string; upstream: string; patches: number; library: string };
  grids: GridDecl[];
  cells: CellDecl[];
}

export type Status = 'passed' | 'failed' | 'skipped';

export interface MatrixResult {
  type: 'result';
  id: string;
  status: Status;
  /** Why it failed or was skipped. */
  reason?: string;
  ms?: number;
}

export interface Matrix {
  header: MatrixHeader;
  results: Map<string, MatrixResult>;
}

export interface MatrixCounts {
  declared: number;
  run: number;
  passed: number;
  failed: number;
  skipped: number;
  notRun: number;
}

export function readMatrix(file = MATRIX_RECORD): Matrix | undefined {
  if (!fs.existsSync(file)) return undefined;
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const header = JSON.parse(lines[0] ?? '{}') as MatrixHeader;
  if (header.type !== 'matrix') return undefined;
  const results = new Map<string, MatrixResult>();
  for (const line of lines.slice(1)) {
    const result = JSON.parse(line) as MatrixResult;
    results.set(result.id, result);
  }
  return { header, results };
}

export function countMatrix({ header, results }: Matrix): MatrixCounts {
  const count = (status: Status): number => [...results.values()].filter((r) => r.status === status).length;
  const passed = count('passed');
  const failed = count('failed');
  const skipped = count('skipped');
  return { declared: header.cells.length, run: passed + failed, passed, failed, skipped, notRun: header.cells.length - results.size };
}

export const countsLine = (c: MatrixCounts): string =>
  `${c.declared} cells: ${c.run} run, ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped` + (c.notRun > 0 ? `, ${c.notRun} not run` : '');

const SYMBOL: Record<Status | 'not run' | 'n/a', string> = { passed: '✓', failed: '✗', skipped: '–', 'not run': '?', 'n/a': '·' };

const LEGEND = '✓ passed · ✗ failed · – skipped · ? not run (the test process ended first) · blank/· does not apply';

/** Rows of a grid in declaration order, each mapping column name → cell. */
const gridRows = (m: Matrix, grid: GridDecl): Map<string, Map<string, CellDecl>> =>
  new Map(
    [...groupBy(cellsOf(m, grid), (c) => c.row)].map(([row, cells]) => [row, new Map(cells.map((c) => [c.column, c]))]),
  );

const cellsOf = (m: Matrix, grid: GridDecl): CellDecl[] => m.header.cells.filter((c) => c.grid === grid.name);

const statusOf = (m: Matrix, cell: CellDecl | undefined): keyof typeof SYMBOL =>
  cell === undefined ? 'n/a' : (m.results.get(cell.id)?.status ?? 'not run');

const failures = (m: Matrix): CellDecl[] => m.header.cells.filter((c) => m.results.get(c.id)?.status === 'failed');

/** `items` by `key`, each group in the items' order. */
function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

/** Skipped cells by why they were skipped (a missing machine feature skips whole rows). */
const skipReasons = (m: Matrix): Map<string, CellDecl[]> =>
  groupBy(
    m.header.cells.filter((c) => m.results.get(c.id)?.status === 'skipped'),
    (c) => m.results.get(c.id)?.reason ?? '',
  );

// ---- reports/matrix.md -------------------------------------------------------------

export function renderMarkdown(m: Matrix): string {
  const { header } = m;
  const failed = failures(m);
  const ref = new Map(failed.map((c, i) => [c.id, `F${i + 1}`]));
  const out: string[] = [
    '# zmq-fd conformance matrix',
    '',
    `libzmq ${header.build.upstream} (base \`${header.build.base}\`, ${header.build.patches} patches) from \`${header.build.library}\`, run ${header.startedAt}.`,
    '',
    `**${countsLine(countMatrix(m))}.**`,
    '',
    `${LEGEND}. A failed cell is marked ✗ F*n*; its reason is under "Failures" below. See the README, "The conformance matrix", for what each cell does.`,
  ];
  for (const grid of header.grids) {
    out.push('', `## ${grid.name}`, '');
    out.push(`| ${grid.rowHeading} | ${grid.columns.map((c) => c.name).join(' | ')} |`);
    out.push(`| --- | ${grid.columns.map(() => ':-:').join(' | ')} |`);
    for (const [row, cells] of gridRows(m, grid)) {
      const marks = grid.columns.map((col) => {
        const cell = cells.get(col.name);
        const status = statusOf(m, cell);
        return status === 'n/a' ? ' ' : `${SYMBOL[status]}${cell && ref.has(cell.id) ? ` ${ref.get(cell.id)}` : ''}`;
      });
      out.push(`| ${row} | ${marks.join(' | ')} |`);
    }
    if (grid.columns.some((c) => c.what)) {
      out.push('');
      for (const [group, columns] of groupBy(grid.columns, (c) => c.group)) {
        out.push(`- **${group}**: ${columns.map((c) => (c.what ? `*${c.name}*: ${c.what}` : c.name)).join('; ')}`);
      }
    }
  }
  if (failed.length > 0) {
    out.push('', '## Failures', '');
    failed.forEach((c, i) => out.push(`- **F${i + 1}** ${c.id}: ${m.results.get(c.id)?.reason ?? ''}`));
  }
  const skipped = skipReasons(m);
  if (skipped.size > 0) {
    out.push('', '## Skipped', '');
    for (const [reason, cells] of skipped) {
      out.push(`- ${reason}: ${cells.length} cells, in ${[...new Set(cells.map((c) => c.row))].map((row) => `*${row}*`).join(', ')}`);
    }
  }
  return `${out.join('\n')}\n`;
}

// ---- the compact console table ------------------------------------------------------

const FAILURES_SHOWN = 10;
const REASON_WIDTH = 160;

export function renderConsole(m: Matrix): string[] {
  const out: string[] = [];
  for (const grid of m.header.grids) {
    const rows = gridRows(m, grid);
    if (grid.console === 'cells') {
      const width = Math.max(grid.rowHeading.length, ...[...rows.keys()].map((r) => r.length));
      const groups = [...groupBy(grid.columns, (c) => c.group).values()];
      const line = (label: string, mark: (col: ColumnDecl) => string): string =>
        `  ${label.padEnd(width)}  ${groups.map((columns) => columns.map(mark).join(' ')).join('   ')}`;
      out.push(`${grid.name}:`, line(grid.rowHeading, (c) => c.code.padEnd(2)));
      for (const [row, cells] of rows) out.push(line(row, (c) => ` ${SYMBOL[statusOf(m, cells.get(c.name))]}`));
      out.push(`  ${grid.columns.map((c) => `${c.code}=${c.name}`).join(' · ')}`);
    } else {
      out.push(`${grid.name}:`);
      const groups = groupBy(cellsOf(m, grid), (c) => c.rowGroup ?? c.row);
      const width = Math.max(...[...groups.keys()].map((g) => g.length));
      for (const [group, cells] of groups) {
        const statuses = cells.map((c) => statusOf(m, c));
        const n = (status: keyof typeof SYMBOL): number => statuses.filter((s) => s === status).length;
        const worst = (['failed', 'not run', 'skipped', 'passed'] as const).find((s) => n(s) > 0) ?? 'passed';
        const others = (['failed', 'skipped', 'not run'] as const).filter((s) => n(s) > 0).map((s) => `, ${n(s)} ${s}`);
        out.push(`  ${group.padEnd(width)}  ${SYMBOL[worst]} ${n('passed')}/${cells.length} passed${others.join('')}`);
      }
    }
    out.push('');
  }
  out.push(`  ${LEGEND}`);
  for (const [reason, cells] of skipReasons(m)) out.push(`  – ${cells.length} skipped: ${reason}`);
  const failed = failures(m);
  for (const c of failed.slice(0, FAILURES_SHOWN)) {
    const reason = m.results.get(c.id)?.reason ?? '';
    out.push(`  ✗ ${c.id}: ${reason.length > REASON_WIDTH ? `${reason.slice(0, REASON_WIDTH)}…` : reason}`);
  }
  if (failed.length > FAILURES_SHOWN) out.push(`  … and ${failed.length - FAILURES_SHOWN} more failures in reports/matrix.md`);
  return out;
}
