// The main job: prerequisites → libzmq source → patched tree → libzmq → harness addon.
// `npm run setup` runs `npm ci` first, then this; `npm run build` runs only this.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { PREREQUISITES, ensurePackages } from './lib/apt.ts';
import { addonPath, buildAddon, buildLibzmq, headerVersion } from './lib/build.ts';
import { BASE_NAMES, ENV, VARIANTS, VARIANT_NAMES, buildPaths, paths, selectBase, selectVariant } from './lib/config.ts';
import { relative } from './lib/proc.ts';
import { acquire, baseLabel } from './lib/source.ts';
import { writeCurrent } from './lib/state.ts';
import { prepareTree, seriesFiles } from './lib/tree.ts';
import { main, say } from './lib/ui.ts';

const USAGE = `Usage: npm run setup -- [--base=auto|${BASE_NAMES.join('|')}] [--variant=${VARIANT_NAMES.join('|')}] [--unpatched]

  --base      libzmq base to patch and build (env ${ENV.base}; default auto: the first
              source that works, see README "Choosing the base")
  --variant   build variant (env ${ENV.variant}; default release)
  --unpatched build the base without its series, into build/<base>-unpatched-<variant>/
              (recorded with no patches: npm test then shows the matrix failing)
  ${ENV.git}  a clone/mirror or URL of libzmq, cloned into an empty libzmq/`;

main(async () => {
  const { values } = parseArgs({
    options: { base: { type: 'string' }, variant: { type: 'string' }, unpatched: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const selected = selectBase(values.base);
  const variant = selectVariant(values.variant);

  say.step('Prerequisites (Debian packages)');
  await ensurePackages(PREREQUISITES);

  say.step(`libzmq source (base: ${selected})`);
  const source = await acquire(selected);
  const unpatched = values.unpatched ?? false;
  const bp = buildPaths(source.base, variant, unpatched ? 'unpatched' : undefined);
  // Logs describe this run only; the previous run's are not worth mixing in.
  fs.rmSync(bp.logs, { recursive: true, force: true });

  say.step(`${unpatched ? 'Unpatched' : 'Patched'} source tree (${relative(bp.dir)})`);
  const label = baseLabel(source.base, source.kind === 'git' ? source.commit : '');
  const tree = await prepareTree(source, bp.src, bp.stamp, label, unpatched ? [] : seriesFiles(source.base));

  say.step('libzmq');
  const library = await buildLibzmq(bp.src, bp, variant);

  say.step('Harness addon');
  await buildAddon(bp);

  writeCurrent({
    base: source.base,
    variant,
    upstream: label,
    zmqVersion: headerVersion(bp.src),
    baseCommit: tree.baseCommit,
    origin: source.origin,
    source: bp.src,
    patches: tree.patches,
    prefix: bp.prefix,
    library,
    buildDir: bp.dir,
    cmakeBuildDir: bp.cmake,
    addon: addonPath(bp),
    builtAt: new Date().toISOString(),
  });

  say.step('Done');
  say.info(`base:     ${source.base} — libzmq ${label}, ${unpatched ? 'unpatched (--unpatched)' : `${tree.patches.length} patch(es) from patches/`}`);
  say.info(`variant:  ${variant}`);
  say.info(`library:  ${library}`);
  say.info(`prefix:   ${bp.prefix}`);
  say.info(`recorded: ${relative(paths.current)}`);
  const sanitizer = VARIANTS[variant].sanitizer;
  if (sanitizer) say.info(`npm test runs the harness with the ${sanitizer} runtime preloaded into node (README, "Variants")`);
  say.info('next:     npm test');
});
