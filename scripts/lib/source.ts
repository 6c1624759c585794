// Getting a libzmq source for a base. Sources are tried in the order of
// config.ts (AUTO_ORDER, or the base's own list); the first that works wins, and
// if none does the user gets one message with everything that was tried.
import fs from 'node:fs';
import { aptGetSource, debianSourcePaths, ensureSourceIndex } from './apt.ts';
import { AUTO_ORDER, BASES, ENV, ROOT, baseOfKind, paths, type BaseName, type DebianBase, type GitBase, type SourceKind } from './config.ts';
import { gitQuery, probe, relative, run } from './proc.ts';
import { fail, say } from './ui.ts';

export type Source =
  | { kind: 'git'; base: BaseName; origin: string; repo: string; commit: string }
  | { kind: 'debian'; base: BaseName; origin: string; tree: string };

type Attempt = { ok: true; source: Source } | { ok: false; why: string; todo?: string[] };

const SUBMODULE_TIMEOUT = '20s';

const SOURCE_LABELS: Record<SourceKind, string> = {
  checkout: 'libzmq/ already checked out',
  submodule: `git submodule update --init libzmq (time limit ${SUBMODULE_TIMEOUT})`,
  'git-env': `$${ENV.git} (a local clone/mirror or URL), cloned into libzmq/`,
  apt: 'Debian source package (apt-get source)',
};

/** The libzmq commit the superproject pins (its gitlink), read from the index. */
export async function pinnedCommit(): Promise<string> {
  const entry = await gitQuery(ROOT, 'ls-files', '--stage', '--', 'libzmq');
  const sha = /^160000 ([0-9a-f]{40}) /.exec(entry ?? '')?.[1];
  if (!sha) {
    fail('cannot read the libzmq commit this project pins (the libzmq gitlink)', [
      'Run the scripts from a git clone of zmq-fd; `git ls-files --stage libzmq` must show a 160000 entry.',
    ]);
  }
  return sha;
}

/** Is `dir` the top of its own git work tree (and not just inside the superproject's)? */
export async function isOwnCheckout(dir: string): Promise<boolean> {
  if (!fs.existsSync(dir)) return false;
  const top = await gitQuery(dir, 'rev-parse', '--show-toplevel');
  return top !== undefined && fs.realpathSync(top) === fs.realpathSync(dir);
}

const isEmptyDir = (dir: string): boolean => !fs.existsSync(dir) || fs.readdirSync(dir).length === 0;

/** The base's commit in `repo`, if the repo has it. */
export async function resolveBase(base: GitBase, repo: string): Promise<{ commit?: string; rev: string }> {
  const rev = 'tag' in base.rev ? base.rev.tag : await pinnedCommit();
  const commit = await gitQuery(repo, 'rev-parse', '--verify', '--quiet', `${rev}^{commit}`);
  return { commit, rev };
}

export function baseLabel(base: BaseName, commit: string): string {
  const def = BASES[base];
  if (def.kind === 'debian') return `${def.version} (Debian)`;
  return 'tag' in def.rev ? `${def.rev.tag} (${commit.slice(0, 8)})` : `${base} ${commit.slice(0, 8)}`;
}

async function fromLibzmqDir(base: BaseName, origin: string): Promise<Attempt> {
  const { commit, rev } = await resolveBase(baseOfKind(base, 'git'), paths.libzmq);
  if (!commit) {
    return { ok: false, why: `libzmq/ has no ${rev}`, todo: ['Fetch it into libzmq/:', '    git -C libzmq fetch --tags origin'] };
  }
  return { ok: true, source: { kind: 'git', base, origin, repo: paths.libzmq, commit } };
}

async function tryCheckout(base: BaseName): Promise<Attempt> {
  if (!(await isOwnCheckout(paths.libzmq))) return { ok: false, why: 'libzmq/ is empty or not a git checkout' };
  return fromLibzmqDir(base, 'libzmq/ checkout');
}

async function trySubmodule(base: BaseName): Promise<Attempt> {
  // On a populated libzmq/ this would move its HEAD: that tree belongs to the developer.
  if (!isEmptyDir(paths.libzmq)) return { ok: false, why: 'libzmq/ is not empty; left alone' };
  if ((await gitQuery(ROOT, 'rev-parse', '--is-inside-work-tree')) !== 'true') {
    return { ok: false, why: 'this copy of zmq-fd is not a git clone' };
  }
  const out = await probe(
    ['git', '-c', 'http.lowSpeedLimit=1000', '-c', 'http.lowSpeedTime=10', 'submodule', 'update', '--init', 'libzmq'],
    { cwd: ROOT, timeout: SUBMODULE_TIMEOUT, env: { GIT_TERMINAL_PROMPT: '0' } },
  );
  if (!out.ok) {
    const reason = out.signal ? `no answer within ${SUBMODULE_TIMEOUT}` : (out.stderr.match(/^fatal: .*$/m)?.[0] ?? `exit code ${out.exitCode}`);
    return { ok: false, why: reason };
  }
  return fromLibzmqDir(base, 'git submodule update --init');
}

async function tryGitEnv(base: BaseName): Promise<Attempt> {
  const url = process.env[ENV.git];
  if (!url) return { ok: false, why: `$${ENV.git} is not set` };
  if (!isEmptyDir(paths.libzmq)) {
    return {
      ok: false,
      why: `libzmq/ is not empty, so $${ENV.git} was not cloned into it`,
      todo: [`Empty libzmq/ (rm -rf libzmq && mkdir libzmq) to clone from $${ENV.git}, or fetch the missing commit into it.`],
    };
  }
  say.info(`cloning ${url} into libzmq/ (a remote URL can take a few minutes)…`);
  const clone = await probe(['git', 'clone', '--no-checkout', '--quiet', url, paths.libzmq], {
    env: { GIT_TERMINAL_PROMPT: '0' },
  });
  if (!clone.ok) {
    fs.rmSync(paths.libzmq, { recursive: true, force: true });
    fs.mkdirSync(paths.libzmq);
    return { ok: false, why: `git clone failed: ${clone.stderr.trim().split('\n').pop() ?? ''}` };
  }
  // Check out what the superproject records, so libzmq/ looks like an initialised submodule.
  const pinned = await pinnedCommit();
  const { commit } = await resolveBase(baseOfKind(base, 'git'), paths.libzmq);
  const checkout = (await gitQuery(paths.libzmq, 'cat-file', '-e', `${pinned}^{commit}`)) !== undefined ? pinned : commit;
  if (checkout) await run(['git', 'checkout', '--quiet', '--detach', checkout], { cwd: paths.libzmq });
  return fromLibzmqDir(base, `$${ENV.git}=${url}`);
}

/** The Debian base's unpacked source, or why it cannot be had here. */
export async function debianSource(def: DebianBase): Promise<{ ok: true; tree: string } | { ok: false; why: string; todo: string[] }> {
  const ready = await ensureSourceIndex(def);
  if (!ready.ok) return ready;
  say.info(`apt-get source ${def.package}=${def.version} → ${relative(debianSourcePaths(def).dir)}`);
  return { ok: true, tree: await aptGetSource(def) };
}

async function tryApt(base: BaseName): Promise<Attempt> {
  const def = baseOfKind(base, 'debian');
  const got = await debianSource(def);
  if (!got.ok) return got;
  return { ok: true, source: { kind: 'debian', base, origin: `apt-get source ${def.package}=${def.version}`, tree: got.tree } };
}

const ATTEMPTS: Record<SourceKind, (base: BaseName) => Promise<Attempt>> = {
  checkout: tryCheckout,
  submodule: trySubmodule,
  'git-env': tryGitEnv,
  apt: tryApt,
};

/** A source for `selected`, or a Fatal listing every source tried and what to do. */
export async function acquire(selected: BaseName | 'auto'): Promise<Source> {
  const plan = selected === 'auto' ? AUTO_ORDER : BASES[selected].sources.map((source) => ({ source, base: selected }));
  const tried: string[] = [];
  const todo: string[] = [];
  for (const [i, { source, base }] of plan.entries()) {
    const result = await ATTEMPTS[source](base);
    if (result.ok) {
      say.info(`base ${base}: from ${result.source.origin}`);
      return result.source;
    }
    tried.push(`  ${i + 1}. ${SOURCE_LABELS[source]} → ${base}: ${result.why}`);
    say.info(`${SOURCE_LABELS[source]}: ${result.why}`);
    if (result.todo) todo.push(...result.todo);
  }
  if (selected === 'auto' || BASES[selected].kind === 'git') {
    todo.push(
      `Point $${ENV.git} at a clone or mirror of libzmq with the base (it is cloned into an empty libzmq/):`,
      `    ${ENV.git}=/path/to/libzmq.git npm run setup -- --base=${selected === 'auto' ? 'master' : selected}`,
    );
  }
  // Each todo group starts unindented; make it a bullet so the choices stand apart.
  const choices = todo.map((line) => (line.startsWith(' ') ? `  ${line}` : `- ${line}`));
  const groups = todo.filter((line) => !line.startsWith(' ')).length;
  return fail(`no libzmq source for base "${selected}". Tried, in order:\n${tried.join('\n')}`, groups > 1 ? ['Any one of:', ...choices] : choices);
}
