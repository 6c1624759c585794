// Patched source trees: a clean scratch git repo at the base commit, with the
// base's series applied without fuzz. libzmq/ itself is never patched.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BASES, baseOfKind, paths, type BaseName, type DebianBase } from './config.ts';
import { capture, gitQuery, probe, relative, run } from './proc.ts';
import type { Source } from './source.ts';
import { fail, say, tail } from './ui.ts';

/** Neutral settings for scratch repos, whatever the user's git config says. */
const GIT = ['git', '-c', 'core.autocrlf=false', '-c', 'advice.detachedHead=false'];

/** Identity for commits made in scratch repos, used only when git has none configured. */
const SCRATCH_IDENT = { GIT_COMMITTER_NAME: 'zmq-fd scripts', GIT_COMMITTER_EMAIL: 'zmq-fd@localhost' };

async function committerEnv(repo: string): Promise<NodeJS.ProcessEnv> {
  return (await gitQuery(repo, 'var', 'GIT_COMMITTER_IDENT')) === undefined ? SCRATCH_IDENT : {};
}

/** The series of a base: patches/<series>/NNNN-*.patch in filename order. */
export function seriesFiles(base: BaseName): string[] {
  const dir = path.join(paths.patches, BASES[base].series);
  if (!fs.existsSync(dir)) return [];
  const names = fs.readdirSync(dir).filter((n) => n.endsWith('.patch'));
  const stray = names.filter((n) => !/^\d{4}-.+\.patch$/.test(n));
  if (stray.length > 0) {
    fail(`${relative(dir)} has patches not named NNNN-*.patch: ${stray.join(', ')}`, [
      `patches/ is written only by \`npm run series -- export ${base}\`; remove the stray files or re-export.`,
    ]);
  }
  return names.sort().map((n) => path.join(dir, n));
}

/** A patch's subject line, from its (possibly folded) `Subject: [PATCH]` header. */
export function patchSubject(patch: string): string {
  const header = fs.readFileSync(patch, 'utf8').split('\n\n', 1)[0] ?? '';
  const folded = /^Subject: (.*(?:\n[ \t].*)*)/m.exec(header)?.[1];
  if (folded === undefined) fail(`${relative(patch)} has no Subject: header; is it a git format-patch file?`);
  return folded.replace(/\n[ \t]+/g, ' ').replace(/^\[PATCH[^\]]*\]\s*/, '');
}

export type ApplyResult = { ok: true } | { ok: false; patch: string; applied: number; output: string };

/**
 * Applies `patches` in order, stopping at the first that does not apply exactly:
 * `git am` without 3-way merge, or `patch -p1 --fuzz=0`, as a distro's patch
 * queue would. A merge or fuzz here would hide a stale series.
 */
export async function applySeries(kind: Source['kind'], src: string, patches: readonly string[]): Promise<ApplyResult> {
  const env = await committerEnv(src);
  for (const [applied, patch] of patches.entries()) {
    const cmd =
      kind === 'git'
        ? [...GIT, 'am', '--quiet', '--no-3way', '--committer-date-is-author-date', patch]
        : ['patch', '-p1', '--fuzz=0', '--batch', '--forward', '--no-backup-if-mismatch', '--reject-file=-', '-i', patch];
    const out = await probe(cmd, { cwd: src, env });
    if (!out.ok) {
      if (kind === 'git') await probe([...GIT, 'am', '--abort'], { cwd: src });
      return { ok: false, patch, applied, output: out.stdall };
    }
  }
  return { ok: true };
}

/** Stops with the patch that did not apply, its tool's output, and how to port the series. */
export function seriesMismatch(base: BaseName, label: string, kind: Source['kind'], result: Extract<ApplyResult, { ok: false }>): never {
  return fail(
    `${relative(result.patch)} does not apply to ${label} (${kind === 'git' ? 'git am, no 3-way merge' : 'patch -p1 --fuzz=0'})`,
    [
      `Port the series on a branch: \`npm run series -- branch ${base}\` applies the patches that`,
      `still apply, then stops at this one; apply it there with \`git am -3\`, fix it, and`,
      `\`npm run series -- export ${base}\`.`,
    ],
    tail(result.output),
  );
}

/**
 * Commits an extracted source tree (without dpkg-source's .pc/ bookkeeping) into
 * `repo`, without touching that repo's index, HEAD or work tree. Identity and
 * date come from the Debian changelog, so every machine gets the same commit id.
 */
export async function importDebianTree(repo: string, def: DebianBase, tree: string): Promise<string> {
  const gitDir = await capture(['git', 'rev-parse', '--absolute-git-dir'], { cwd: repo });
  const index = path.join(os.tmpdir(), `zmq-fd-import-${process.pid}.index`);
  const changelog = (field: string) => capture(['dpkg-parsechangelog', '-l', path.join(tree, 'debian/changelog'), '-S', field]);
  const maintainer = /^(.*?)\s*<(.*)>$/.exec(await changelog('Maintainer'));
  const date = await changelog('Date');
  const ident = {
    GIT_AUTHOR_NAME: maintainer?.[1] ?? 'Debian',
    GIT_AUTHOR_EMAIL: maintainer?.[2] ?? 'debian@localhost',
    GIT_AUTHOR_DATE: date,
  };
  const env = {
    ...ident,
    GIT_COMMITTER_NAME: ident.GIT_AUTHOR_NAME,
    GIT_COMMITTER_EMAIL: ident.GIT_AUTHOR_EMAIL,
    GIT_COMMITTER_DATE: date,
    GIT_INDEX_FILE: index,
  };
  try {
    const git = [...GIT, `--git-dir=${gitDir}`, `--work-tree=${tree}`];
    // -f: the tarball ships .gitignore files that would otherwise drop tracked sources.
    await run([...git, 'add', '-A', '-f', '--', '.', ':(exclude).pc'], { cwd: tree, env });
    const treeId = await capture([...git, 'write-tree'], { cwd: tree, env });
    const message = `${def.package} ${def.version} (Debian ${def.codename}) with debian/patches applied\n\nImported from \`apt-get source ${def.package}=${def.version}\` by zmq-fd.`;
    return await capture([...git, 'commit-tree', treeId, '-m', message], { cwd: tree, env });
  } finally {
    fs.rmSync(index, { force: true });
  }
}

interface Stamp {
  base: string;
  patches: { name: string; sha256: string }[];
  head: string;
}

const digest = (file: string): string => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/**
 * Makes `src` the base plus `patches` (its series, or none for an unpatched
 * build). When it already is (same base commit, same patch files, no stray
 * edits) it is left alone, so unchanged files keep their mtimes and the CMake
 * build stays incremental; otherwise the tree is reset with git, which
 * rewrites only files that differ.
 */
export async function prepareTree(
  source: Source,
  src: string,
  stampFile: string,
  label: string,
  patches: readonly string[],
): Promise<{ baseCommit: string; patches: string[] }> {
  const want = patches.map((p) => ({ name: relative(p), sha256: digest(p) }));

  let baseCommit: string;
  if (source.kind === 'git') {
    baseCommit = source.commit;
    // A shared clone borrows libzmq/'s objects: fast, and any commit there is reachable.
    if ((await gitQuery(src, 'cat-file', '-e', `${baseCommit}^{commit}`)) === undefined) {
      fs.rmSync(src, { recursive: true, force: true });
      await run([...GIT, 'clone', '--quiet', '--shared', '--no-checkout', source.repo, src]);
    }
  } else {
    if (!fs.existsSync(path.join(src, '.git'))) {
      fs.rmSync(src, { recursive: true, force: true });
      await run(['git', 'init', '--quiet', src]);
    }
    baseCommit = await importDebianTree(src, baseOfKind(source.base, 'debian'), source.tree);
  }

  const stamp = fs.existsSync(stampFile) ? (JSON.parse(fs.readFileSync(stampFile, 'utf8')) as Stamp) : undefined;
  const head = await gitQuery(src, 'rev-parse', 'HEAD');
  const clean = (await gitQuery(src, 'status', '--porcelain', '--ignored')) === '';
  if (stamp && stamp.base === baseCommit && stamp.head === head && clean && JSON.stringify(stamp.patches) === JSON.stringify(want)) {
    say.info(`${relative(src)}: unchanged (${label} + ${patches.length} patches)`);
    return { baseCommit, patches: want.map((p) => p.name) };
  }

  fs.rmSync(stampFile, { force: true });
  await run([...GIT, 'checkout', '--quiet', '--force', '--detach', baseCommit], { cwd: src });
  await run([...GIT, 'clean', '-fdxq'], { cwd: src });
  say.info(
    patches.length === 0
      ? `${relative(src)}: ${label}, no patches applied`
      : `${relative(src)}: ${label}, applying ${patches.length} patch${patches.length === 1 ? '' : 'es'} from patches/${BASES[source.base].series}/`,
  );
  const result = await applySeries(source.kind, src, patches);
  if (!result.ok) seriesMismatch(source.base, label, source.kind, result);
  if (source.kind === 'debian' && patches.length > 0) {
    // patch(1) leaves the changes uncommitted; commit them so that the next run's
    // "is src/ still what we built?" is just HEAD plus a clean `git status`.
    const ident = { GIT_AUTHOR_NAME: SCRATCH_IDENT.GIT_COMMITTER_NAME, GIT_AUTHOR_EMAIL: SCRATCH_IDENT.GIT_COMMITTER_EMAIL };
    await run([...GIT, 'add', '-A', '-f'], { cwd: src });
    await run([...GIT, 'commit', '--quiet', '--no-verify', '-m', `zmq-fd series (${patches.length} patches)`], {
      cwd: src,
      env: { ...SCRATCH_IDENT, ...ident },
    });
  }
  const done: Stamp = { base: baseCommit, patches: want, head: await capture(['git', 'rev-parse', 'HEAD'], { cwd: src }) };
  fs.writeFileSync(stampFile, `${JSON.stringify(done, null, 2)}\n`);
  return { baseCommit, patches: want.map((p) => p.name) };
}
