// The conformance matrix (tests/matrix/table.ts): one ava test per cell, each
// recorded in reports/matrix.jsonl for `npm test` to render. Serial, because
// every cell compares the process's open descriptors before and after itself.
// Declared whatever the library under test: against a libzmq without the
// series, the cells run and fail, they are not skipped.
import { setImmediate } from 'node:timers/promises';
import test from 'ava';
import * as zmq from '../harness/index.ts';
import type { CellDecl, GridDecl } from '../scripts/lib/matrix-report.ts';
import { readCurrent } from '../scripts/lib/state.ts';
import { type Accounting, removeScratch } from './matrix/accounting.ts';
import { errorBody, run, transportBody } from './matrix/cells.ts';
import { unavailable } from './matrix/fixtures.ts';
import { Recorder } from './matrix/recorder.ts';
import {
  ERROR_COLUMNS,
  TRANSPORT_COLUMNS,
  errorCells,
  errorColumn,
  errorGroupLabel,
  errorRowLabel,
  rowLabel,
  transportCells,
  transportColumn,
  transportRequirements,
  type Requirement,
} from './matrix/table.ts';

const built = readCurrent();

// libsodium may open /dev/urandom on first use and keep it for the life of the
// process: have that happen before any cell counts descriptors.
zmq.curveKeypair();

const ERRORS_GRID = 'Errors (RFC.md sections 5 and 7.2)';

const GRIDS: GridDecl[] = [
  { name: 'Transports', rowHeading: 'role · origin ↔ peer · scheme', columns: [...TRANSPORT_COLUMNS], console: 'cells' },
  {
    name: ERRORS_GRID,
    rowHeading: 'row. errno: descriptor or endpoint',
    columns: ERROR_COLUMNS.map((name) => ({ name, code: '', group: 'role and scheme' })),
    console: 'row groups',
  },
];

interface Declared {
  decl: CellDecl;
  requires: Requirement[];
  body: (accounting: Accounting) => void;
}

const declared: Declared[] = [
  ...transportCells().map((cell) => {
    const row = rowLabel(cell.row);
    const column = transportColumn(cell);
    return { decl: { id: `${row} · ${column}`, grid: 'Transports', row, column }, requires: transportRequirements(cell), body: transportBody(cell) };
  }),
  ...errorCells().map((cell) => {
    const row = errorRowLabel(cell.case);
    const column = errorColumn(cell.role, cell.scheme);
    const decl = { id: `${row} · ${column}`, grid: ERRORS_GRID, row, rowGroup: errorGroupLabel(cell.case), column };
    return { decl, requires: cell.case.requires ? [cell.case.requires] : [], body: errorBody(cell) };
  }),
];

const recorder = new Recorder({
  type: 'matrix',
  startedAt: new Date().toISOString(),
  // With --library, no base or series of ours: the library is whatever was given.
  build: { base: built.external ? 'none, --library' : built.base, upstream: built.upstream, patches: built.patches.length, library: built.library },
  grids: GRIDS,
  cells: declared.map((d) => d.decl),
});

for (const { decl, requires, body } of declared) {
  const missing = unavailable(requires);
  if (missing !== undefined) {
    recorder.record({ id: decl.id, status: 'skipped', reason: missing });
    test.serial.skip(decl.id, () => {});
    continue;
  }
  test.serial(decl.id, async (t) => {
    // Cells are synchronous: without a turn of the event loop in between, ava's
    // worker would send no result to ava until the last cell, and a cell that
    // hangs would lose them all when ava's timeout ends the worker.
    await setImmediate();
    const outcome = run(body);
    recorder.record({ id: decl.id, ...outcome });
    if (outcome.status === 'failed') t.fail(outcome.reason);
    else t.pass();
  });
}

test.after.always(removeScratch);
