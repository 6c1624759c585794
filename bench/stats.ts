// Summaries of repeated runs, and ratios between variants measured side by side.

export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function summarise(runs: readonly number[]): Summary {
  if (runs.length === 0) throw new Error('no runs to summarise');
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number, runs: [...runs] };
}

export interface Ratio {
  /** Median of A over median of B: the headline. */
  value: number;
  /**
   * The spread of A/B within each round (run i of A against run i of B,
   * measured one after the other): how much of the headline is noise.
   */
  roundsMin: number;
  roundsMax: number;
  /**
   * 95% confidence interval of the headline, by a paired bootstrap over the
   * rounds: whether a ratio a few percent off 1 is a difference or noise.
   */
  ci95: [number, number];
}

const median = (xs: readonly number[]): number => summarise(xs).median;

/**
 * Resamples whole rounds (A and B of one round stay together, as they were
 * measured side by side) and takes the 2.5th and 97.5th percentiles of
 * median(A) / median(B). Seeded, so that one report always renders the same.
 */
function bootstrap(a: readonly number[], b: readonly number[], resamples = 4000): [number, number] {
  const n = Math.min(a.length, b.length);
  let seed = 0x2545f491;
  const next = (): number => {
    // xorshift32: enough for resampling indices, and reproducible.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const ratios: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const pick = Array.from({ length: n }, () => Math.floor(next() * n));
    ratios.push(median(pick.map((i) => a[i] as number)) / median(pick.map((i) => b[i] as number)));
  }
  ratios.sort((x, y) => x - y);
  return [ratios[Math.floor(0.025 * (resamples - 1))] as number, ratios[Math.ceil(0.975 * (resamples - 1))] as number];
}

export function ratio(a: Summary, b: Summary): Ratio {
  const paired = a.runs.slice(0, b.runs.length).map((x, i) => x / (b.runs[i] as number));
  return {
    value: a.median / b.median,
    roundsMin: Math.min(...paired),
    roundsMax: Math.max(...paired),
    ci95: bootstrap(a.runs, b.runs),
  };
}
