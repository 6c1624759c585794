// The soaks of `npm run soak` (soak/cycles.ts), bounded for `npm test`: 2,000
// cycles each, sampled every 200. The judgement is the soak's own: open fds
// exactly at the baseline, no pipe and no live connection at every sample,
// every cycle's connection seen to open and end, RSS without gross growth.
import test from 'ava';
import { runSoak } from '../soak/cycles.ts';
import { SOAKS, type SoakName } from '../soak/plan.ts';
import { summaryLine } from '../soak/report.ts';

const CYCLES = 2000;
const EVERY = 200;

for (const name of Object.keys(SOAKS) as SoakName[]) {
  test.serial(`soak "${name}", ${CYCLES} cycles: ${SOAKS[name]}`, (t) => {
    const result = runSoak(name, CYCLES, EVERY);
    t.log(summaryLine(result));
    t.deepEqual(result.problems, []);
    t.is(result.samples.at(-1)?.cycle, CYCLES);
    t.is(result.samples.length, CYCLES / EVERY + 1);
  });
}
