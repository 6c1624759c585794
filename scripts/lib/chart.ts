// Vega-Lite to SVG, in Node with no browser: the benchmark's and the soak's
// charts are rendered the same way.
import * as vega from 'vega';
import * as vl from 'vega-lite';

export type ChartSpec = vl.TopLevelSpec;

export async function renderSvg(spec: ChartSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
