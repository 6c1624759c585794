// The patch workflow: commits on branch zmq-fd/<base> in libzmq/ are the source
// of truth while editing; patches/<series>/ is generated from them and is never
// edited by hand. See README "Working on the patch series".
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { debianSourcePaths } from './lib/apt.ts';
import { buildLibzmq, ctestCommand, touchedTestsFilter } from './lib/build.ts';
import { BASES, BASE_NAMES, STANDALONE_FIXES, buildPaths, paths, type BaseName, type DebianBase } from './lib/config.ts';
import { capture, gitQuery, relative, run, step } from './lib/proc.ts';
import { acquire, baseLabel, debianSource, isOwnCheckout, resolveBase } from './lib/source.ts';
import { applySeries, importDebianTree, patchSubject, prepareTree, seriesFiles, type ApplyResult } from './lib/tree.ts';
import { fail, main, say, tail } from './lib/ui.ts';

const USAGE = `Usage: npm run series -- <command>

  branch <base> [--force]  create or reset branch zmq-fd/<base> in libzmq/ at the base,
                           with patches/<series>/ applied as commits (git am)
  export <base>            regenerate patches/<series>/ from <base>..zmq-fd/<base>
  check [<base>…]          compare patches/ with the branches (default: every base), and
                           apply each upstream fix alone to its base (config.ts, STANDALONE_FIXES)
  verify <base> [--all-tests]
                           apply patches/<series>/ one commit at a time; build each step
                           and run libzmq's tests that the series touches (or all); then
                           build and test each upstream fix alone on the base

Bases: ${BASE_NAMES.map((b) => `${b} (patches/${BASES[b].series}/)`).join(', ')}`;

const LIBZMQ = paths.libzmq;
const branchOf = (base: BaseName): string => `zmq-fd/${base}`;
const seriesDir = (base: BaseName): string => path.join(paths.patches, BASES[base].series);

/**
 * Options that make the output depend only on the commits, not on the user's
 * git config or repo size: zero "From" ids and full blob ids (abbreviations
 * grow with the repo), no [PATCH n/m] (inserting a patch would rewrite every
 * subject), no renames (patch(1) applies the Debian series), fixed context,
 * prefixes, stat width and algorithm, nothing added to the mail headers.
 */
const FORMAT_PATCH = [
  'format-patch',
  '--zero-commit',
  '--full-index',
  '--no-numbered',
  '--no-renames',
  '--no-signature',
  '--no-signoff',
  '--no-notes',
  '--no-base',
  '--no-thread',
  '--no-cover-letter',
  '--no-attach',
  '--no-to',
  '--no-cc',
  '--no-add-header',
  '--no-relative',
  '--subject-prefix=PATCH',
  '--src-prefix=a/',
  '--dst-prefix=b/',
  '--unified=3',
  '--diff-algorithm=myers',
  '-O/dev/null',
  '--stat=72',
  '--filename-max-length=64',
];

function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `zmq-fd-${label}-`));
}

async function requireCheckout(): Promise<void> {
  if (!(await isOwnCheckout(LIBZMQ))) {
    fail('libzmq/ is not a git checkout, and the series workflow works on branches there', [
      'Populate it first: `npm run setup -- --base=master` (or `git submodule update --init libzmq`,',
      'or ZMQ_FD_LIBZMQ_GIT=/path/to/libzmq.git npm run setup -- --base=master).',
    ]);
  }
}

/** Is `commit` an ancestor of (or equal to) `branch`? */
const contains = async (branch: string, commit: string): Promise<boolean> =>
  (await gitQuery(LIBZMQ, 'merge-base', '--is-ancestor', commit, branch)) !== undefined;

const branchHead = (name: string): Promise<string | undefined> => gitQuery(LIBZMQ, 'rev-parse', '--verify', '--quiet', `refs/heads/${name}^{commit}`);

/** The base commit in libzmq/. For debian: the imported Debian tree, imported on first use when `importIfMissing`. */
async function baseCommit(base: BaseName, importIfMissing = false): Promise<string> {
  const def = BASES[base];
  if (def.kind === 'git') {
    const { commit, rev } = await resolveBase(def, LIBZMQ);
    return commit ?? fail(`libzmq/ has no ${rev}`, ['Fetch it: git -C libzmq fetch --tags origin']);
  }
  const existing = await branchHead(def.importBranch);
  if (existing) return existing;
  if (!importIfMissing) {
    return fail(`libzmq/ has no branch ${def.importBranch} (the imported Debian tree)`, [`Create it: npm run series -- branch ${base}`]);
  }
  return importDebian(def);
}

async function importDebian(def: DebianBase): Promise<string> {
  const got = await debianSource(def);
  if (!got.ok) fail(`cannot get the Debian source: ${got.why}`, got.todo);
  const commit = await importDebianTree(LIBZMQ, def, got.tree);
  await run(['git', 'branch', def.importBranch, commit], { cwd: LIBZMQ });
  say.info(`imported ${def.package} ${def.version} as branch ${def.importBranch} (${commit.slice(0, 12)}) in libzmq/`);
  return commit;
}

/** `git format-patch base..branch` into `out` (emptied first of *.patch). */
async function formatPatch(base: string, branch: string, out: string): Promise<string[]> {
  fs.mkdirSync(out, { recursive: true });
  for (const name of fs.readdirSync(out)) if (name.endsWith('.patch')) fs.rmSync(path.join(out, name));
  const merges = await capture(['git', 'rev-list', '--merges', `${base}..${branch}`], { cwd: LIBZMQ });
  if (merges) fail(`${branch} has merge commits after its base; a patch series must be linear`, [`Rebase it: git -C libzmq rebase ${base.slice(0, 12)} ${branch}`]);
  const written = await capture(['git', ...FORMAT_PATCH, '--output-directory', out, `${base}..${branch}`], { cwd: LIBZMQ });
  return written.split('\n').filter(Boolean);
}

/** Files that differ between two patch folders, as human-readable lines. */
function differences(expected: string, actual: string): string[] {
  const list = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.patch')) : []);
  const names = new Set([...list(expected), ...list(actual)]);
  const out: string[] = [];
  for (const name of [...names].sort()) {
    const a = path.join(expected, name);
    const b = path.join(actual, name);
    if (!fs.existsSync(a)) out.push(`only in ${relative(actual)}/: ${name}`);
    else if (!fs.existsSync(b)) out.push(`missing from ${relative(actual)}/: ${name}`);
    else if (!fs.readFileSync(a).equals(fs.readFileSync(b))) out.push(`differs: ${name}`);
  }
  return out;
}

/** What exporting the branch now would change in patches/, or undefined if there is no branch. */
async function pendingChanges(base: BaseName): Promise<string[] | undefined> {
  const branch = branchOf(base);
  if (!(await branchHead(branch))) return undefined;
  const from = await baseCommit(base);
  if (!(await contains(branch, from))) {
    return [`${branch} does not contain its base ${baseLabel(base, from)}; rebase it onto ${from.slice(0, 12)}`];
  }
  const tmp = tempDir('export');
  try {
    await formatPatch(from, branch, tmp);
    return differences(tmp, seriesDir(base));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function checkedOutIn(branch: string): Promise<string | undefined> {
  const list = await capture(['git', 'worktree', 'list', '--porcelain'], { cwd: LIBZMQ });
  const entry = list.split('\n\n').find((block) => block.includes(`\nbranch refs/heads/${branch}`));
  return entry?.split('\n')[0]?.replace(/^worktree /, '');
}

/** A throw-away shared clone of libzmq/ at `commit`: nothing in libzmq/ changes while it is used. */
async function scratchClone(commit: string, scratch: string): Promise<void> {
  await run(['git', 'clone', '--quiet', '--shared', '--no-checkout', LIBZMQ, scratch]);
  await run(['git', '-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', commit], { cwd: scratch });
}

async function branch(base: BaseName, force: boolean): Promise<void> {
  await requireCheckout();
  const name = branchOf(base);
  const commit = await baseCommit(base, true);
  const pending = await pendingChanges(base);
  if (pending && pending.length === 0) {
    say.info(`${name} already matches patches/${BASES[base].series}/; nothing to do`);
    return;
  }
  if (pending && !force) {
    fail(`${name} has work that patches/${BASES[base].series}/ does not:\n  ${pending.join('\n  ')}`, [
      `Keep it: npm run series -- export ${base}`,
      `Discard it: npm run series -- branch ${base} --force`,
    ]);
  }
  const where = await checkedOutIn(name);
  if (where) fail(`${name} is checked out in ${where}`, [`Switch that work tree to another branch first (git -C ${where} switch --detach).`]);
  const patches = seriesFiles(base);
  const scratch = tempDir('branch');
  let result: ApplyResult;
  try {
    // Applied in a scratch clone, so libzmq/'s HEAD, index and work tree are never touched.
    await scratchClone(commit, scratch);
    result = await applySeries('git', scratch, patches);
    await run(['git', 'fetch', '--quiet', scratch, `+HEAD:refs/heads/${name}`], { cwd: LIBZMQ });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const label = baseLabel(base, commit);
  if (!result.ok) {
    fail(
      `${relative(result.patch)} does not apply to ${label}; ${name} holds the ${result.applied} patch(es) before it`,
      [
        `Port the rest there: git -C libzmq switch ${name}`,
        `  git -C libzmq am -3 ${patches.slice(result.applied).map((p) => path.relative(LIBZMQ, p)).join(' ')}`,
        `  (fix conflicts, git am --continue), then: npm run series -- export ${base}`,
      ],
      tail(result.output),
    );
  }
  say.info(`${name} = ${label} + ${patches.length} commit(s) from patches/${BASES[base].series}/`);
  say.info(`edit it with git (git -C libzmq switch ${name}; commit, rebase -i…), then: npm run series -- export ${base}`);
}

async function exportSeries(base: BaseName): Promise<void> {
  await requireCheckout();
  const name = branchOf(base);
  if (!(await branchHead(name))) fail(`libzmq/ has no branch ${name}`, [`Create it: npm run series -- branch ${base}`]);
  const from = await baseCommit(base);
  if (!(await contains(name, from))) {
    fail(`${name} is not based on ${baseLabel(base, from)}`, [`Rebase it: git -C libzmq rebase --onto ${from.slice(0, 12)} <old base> ${name}`]);
  }
  const written = await formatPatch(from, name, seriesDir(base));
  say.info(`patches/${BASES[base].series}/: ${written.length} patch(es) from ${name}`);
  for (const file of written) say.info(`  ${path.basename(file)}`);
}

/**
 * Does the series apply to its base? Only checked where the base's source is
 * already here: check never downloads.
 */
async function verifyApplies(base: BaseName): Promise<{ ok: boolean; text: string }> {
  const patches = seriesFiles(base);
  if (patches.length === 0) return { ok: true, text: 'empty series, nothing to apply' };
  const scratch = await scratchBase(base);
  if ('skipped' in scratch) return { ok: true, text: scratch.skipped };
  try {
    const result = await applySeries(BASES[base].kind, scratch.dir, patches);
    if (result.ok) return { ok: true, text: `all ${patches.length} patches apply to ${scratch.label}` };
    return { ok: false, text: `${relative(result.patch)} does NOT apply to ${scratch.label}:\n${tail(result.output)}` };
  } finally {
    fs.rmSync(scratch.dir, { recursive: true, force: true });
  }
}

/** Patches of a base's series, by subject; fails naming those missing. */
function patchesNamed(base: BaseName, subjects: readonly string[], what: string): string[] {
  const bySubject = new Map(seriesFiles(base).map((p) => [patchSubject(p), p]));
  const missing = subjects.filter((subject) => !bySubject.has(subject));
  if (missing.length > 0) {
    fail(`patches/${BASES[base].series}/ lacks ${what} that config.ts lists:\n  ${missing.join('\n  ')}`, [
      'Keep the subject lines identical on every base, or update the list in scripts/lib/config.ts.',
    ]);
  }
  return subjects.map((subject) => bySubject.get(subject) as string);
}

/** Each upstream fix that must stand alone, with the backports its base carries before it. */
function standaloneFixes(base: BaseName): { fix: string; applied: string[] }[] {
  const backports = patchesNamed(base, BASES[base].backports ?? [], 'backports');
  return patchesNamed(base, STANDALONE_FIXES, 'upstream fixes (STANDALONE_FIXES)').map((fix) => ({ fix, applied: [...backports, fix] }));
}

/**
 * A scratch copy of the base, for applying patches without a build: a shared
 * clone of libzmq/ at the base commit, or a copy of the Debian tree. Undefined
 * where that source is not here (check never downloads).
 */
async function scratchBase(base: BaseName): Promise<{ dir: string; label: string } | { skipped: string }> {
  const def = BASES[base];
  const scratch = tempDir('check');
  if (def.kind === 'git') {
    if (!(await isOwnCheckout(LIBZMQ))) return { skipped: 'libzmq/ is not a checkout: not verified' };
    const { commit, rev } = await resolveBase(def, LIBZMQ);
    if (!commit) return { skipped: `libzmq/ has no ${rev}: not verified` };
    await scratchClone(commit, scratch);
    return { dir: scratch, label: baseLabel(base, commit) };
  }
  const { tree, complete } = debianSourcePaths(def);
  if (!fs.existsSync(complete)) return { skipped: 'the Debian source is not downloaded (npm run setup -- --base=debian): not verified' };
  fs.cpSync(tree, scratch, { recursive: true, verbatimSymlinks: true });
  return { dir: scratch, label: baseLabel(base, '') };
}

/** Does each upstream fix apply to the base on its own? */
async function verifyStandalone(base: BaseName): Promise<{ ok: boolean; lines: string[] }> {
  const lines: string[] = [];
  let ok = true;
  for (const { fix, applied } of standaloneFixes(base)) {
    const scratch = await scratchBase(base);
    if ('skipped' in scratch) return { ok: true, lines: [scratch.skipped] };
    try {
      const result = await applySeries(BASES[base].kind, scratch.dir, applied);
      if (!result.ok) ok = false;
      const on = applied.length > 1 ? ' (after the base\'s backports)' : '';
      lines.push(`${result.ok ? 'applies alone' : 'does NOT apply alone'}${on}: ${path.basename(fix)}`);
      if (!result.ok) lines.push(tail(result.output, 10));
    } finally {
      fs.rmSync(scratch.dir, { recursive: true, force: true });
    }
  }
  return { ok, lines };
}

async function check(bases: BaseName[]): Promise<void> {
  const haveCheckout = await isOwnCheckout(LIBZMQ);
  let stale = 0;
  let broken = 0;
  for (const base of bases) {
    const pending = haveCheckout ? await pendingChanges(base) : undefined;
    if (pending === undefined) {
      const verified = await verifyApplies(base);
      if (!verified.ok) broken++;
      say.info(`${base}: no branch ${branchOf(base)}; ${verified.text}`);
    } else if (pending.length === 0) {
      say.info(`${base}: patches/${BASES[base].series}/ is up to date with ${branchOf(base)}`);
    } else {
      stale++;
      say.info(`${base}: patches/${BASES[base].series}/ is OUT OF DATE with ${branchOf(base)}:`);
      for (const line of pending) say.info(`  ${line}`);
      say.info(`  → npm run series -- export ${base}`);
    }
  }
  let dependent = 0;
  for (const base of bases) {
    const standalone = await verifyStandalone(base);
    if (!standalone.ok) dependent++;
    say.info(`${base}: upstream fixes on their own:`);
    for (const line of standalone.lines) say.info(`  ${line}`);
  }
  if (broken > 0) fail(`${broken} series do not apply to their base`, ['Port them: npm run series -- branch <base> (see README "Working on the patch series").']);
  if (dependent > 0) {
    fail(`${dependent} series have upstream fixes that need other commits of the series`, [
      'Each fix in STANDALONE_FIXES (scripts/lib/config.ts) must touch no lines that an earlier commit changes:',
      'rework it on the branch (git rebase -i), then export.',
    ]);
  }
  if (stale > 0) fail(`${stale} series out of date with their branches`, ['Run `npm run series -- export <base>` for each base listed above.']);
}

/** Each commit of a series builds and passes the tests: what upstream asks of a pull request. */
async function verify(base: BaseName, allTests: boolean): Promise<void> {
  const patches = seriesFiles(base);
  if (patches.length === 0) fail(`patches/${BASES[base].series}/ is empty: there is nothing to verify`);
  const source = await acquire(base);
  const bp = buildPaths(base, 'release', 'verify');
  fs.rmSync(bp.logs, { recursive: true, force: true });
  const label = baseLabel(base, source.kind === 'git' ? source.commit : '');
  const which = allTests ? [] : touchedTestsFilter();
  for (const [i, patch] of patches.entries()) {
    say.step(`${i + 1}/${patches.length}: ${path.basename(patch)}`);
    await prepareTree(source, bp.src, bp.stamp, label, patches.slice(0, i + 1));
    await buildLibzmq(bp.src, bp, 'release');
    await step(allTests ? "libzmq's tests" : "libzmq's tests that the series touches", ctestCommand(base, 'release', ...which), {
      cwd: bp.cmake,
      log: path.join(bp.logs, `ctest-${i + 1}.log`),
      todo: [`Fix that commit on ${branchOf(base)} in libzmq/ (git rebase -i), then: npm run series -- export ${base}`],
    });
  }
  const fixes = standaloneFixes(base);
  for (const [i, { fix, applied }] of fixes.entries()) {
    say.step(`upstream fix ${i + 1}/${fixes.length} alone on ${label}: ${path.basename(fix)}`);
    await prepareTree(source, bp.src, bp.stamp, label, applied);
    await buildLibzmq(bp.src, bp, 'release');
    await step("libzmq's tests", ctestCommand(base, 'release', ...which), {
      cwd: bp.cmake,
      log: path.join(bp.logs, `ctest-alone-${i + 1}.log`),
      todo: [`That fix needs other commits of the series: rework it on ${branchOf(base)} in libzmq/, then export.`],
    });
  }
  say.step(
    `Done: each of the ${patches.length} commits of patches/${BASES[base].series}/ builds and passes, and so does each of its ${fixes.length} upstream fixes alone`,
  );
}

function asBase(value: string | undefined): BaseName {
  if (value && (BASE_NAMES as string[]).includes(value)) return value as BaseName;
  return fail(value ? `unknown base "${value}"` : 'which base?', [USAGE]);
}

main(async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { force: { type: 'boolean' }, 'all-tests': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, ...args] = positionals;
  if (values.help || command === undefined) {
    console.log(USAGE);
    return;
  }
  if (command === 'branch' && args.length === 1) return branch(asBase(args[0]), values.force ?? false);
  if (command === 'export' && args.length === 1) return exportSeries(asBase(args[0]));
  if (command === 'check') return check(args.length > 0 ? args.map(asBase) : BASE_NAMES);
  if (command === 'verify' && args.length === 1) return verify(asBase(args[0]), values['all-tests'] ?? false);
  fail(`bad command line: ${positionals.join(' ')}`, [USAGE]);
});
