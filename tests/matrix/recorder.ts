// Appends each cell's outcome to reports/matrix.jsonl as it finishes, after a
// first line that declares every cell; scripts/lib/matrix-report.ts renders it.
import fs from 'node:fs';
import path from 'node:path';
import { MATRIX_RECORD, type MatrixHeader, type MatrixResult } from '../../scripts/lib/matrix-report.ts';

export class Recorder {
  constructor(header: MatrixHeader) {
    fs.mkdirSync(path.dirname(MATRIX_RECORD), { recursive: true });
    fs.writeFileSync(MATRIX_RECORD, `${JSON.stringify(header)}\n`);
  }

  record(result: Omit<MatrixResult, 'type'>): void {
    fs.appendFileSync(MATRIX_RECORD, `${JSON.stringify({ type: 'result', ...result })}\n`);
  }
}
