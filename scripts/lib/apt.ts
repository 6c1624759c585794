// Debian prerequisites and the deb-src index. As root the scripts fix what is
// missing; otherwise they print the exact commands and stop.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { paths, type DebianBase } from './config.ts';
import { probe, run } from './proc.ts';
import { fail, say, tail } from './ui.ts';

/** Debian packages the pipeline needs. */
export const PREREQUISITES = [
  'git', // source trees, `git am`, the series workflow
  'ca-certificates', // git over https (the submodule's upstream URL)
  'make',
  'g++',
  'gcc', // the C shim of the slowio suite (tests/faults/slow-io-thread.c)
  'cmake',
  'pkg-config', // the harness finds the built libzmq through libzmq.pc
  'libsodium-dev', // CURVE
  'dpkg-dev', // dpkg-source, which `apt-get source` runs to unpack the Debian package
  'patch', // the Debian base applies its series with patch(1)
  'autoconf', // autoconf/automake/libtool: libzmq's autotools build (Debian's own way)
  'automake',
  'libtool',
  'python3-zmq', // examples/: Debian's own pyzmq, on Debian's unpatched libzmq5 or, through LD_LIBRARY_PATH, the patched one
  'systemd', // examples/: systemd-socket-activate (use cases A and B.1), systemd-analyze verify (the unit pair)
  'stunnel4', // examples/: the TLS terminator of use case B.2
  'openssl', // examples/: the throwaway certificate of use case B.2
] as const;

export const isRoot = (): boolean => process.getuid?.() === 0;

const hasSudo = (process.env.PATH ?? '').split(':').some((dir) => dir && fs.existsSync(path.join(dir, 'sudo')));

/** How to run a command as root, for messages to non-root users (their text says "as root" too). */
const asRoot = (cmd: string): string => (!isRoot() && hasSudo ? `sudo ${cmd}` : cmd);

// Other apt/dpkg processes (unattended-upgrades, a parallel job) can hold the
// locks for minutes; wait that long, not forever.
const LOCK_WAIT_S = 300;

async function aptGet(args: readonly string[], what: string, onLine?: (line: string) => string | undefined): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_S * 1000;
  for (let attempt = 0; ; attempt++) {
    // DPkg::Lock::Timeout covers the dpkg lock only; `update` needs the retry loop.
    const out = await probe(['apt-get', '-q', '-o', `DPkg::Lock::Timeout=${LOCK_WAIT_S}`, ...args], {
      env: { DEBIAN_FRONTEND: 'noninteractive' },
      onLine,
    });
    if (out.ok) return;
    const locked = /Could not get lock|Unable to lock|Unable to acquire the dpkg/.test(out.stderr);
    if (locked && Date.now() < deadline) {
      if (attempt === 0) say.info(`${what}: another process holds the apt lock; waiting up to ${LOCK_WAIT_S} s…`);
      await sleep(5000);
      continue;
    }
    fail(`${what} failed`, locked ? [`Another apt/dpkg process held the lock for over ${LOCK_WAIT_S} s; let it finish and rerun.`] : [], tail(out.stdall));
  }
}

let listsFresh = false;
async function aptUpdate(): Promise<void> {
  if (listsFresh) return;
  say.info('apt-get update…');
  await aptGet(['update'], 'apt-get update');
  listsFresh = true;
}

/** The installed version of each of `names` that dpkg has installed. */
export async function installedVersions(names: readonly string[]): Promise<Map<string, string>> {
  // dpkg-query exits 1 when some name is unknown; the installed ones are still listed.
  const out = await probe(['dpkg-query', '-W', '-f=${Package} ${db:Status-Status} ${Version}\\n', ...names]);
  const installed = new Map<string, string>();
  for (const line of out.stdout.split('\n')) {
    const [name, status, version] = line.split(' ');
    if (name && status === 'installed' && version) installed.set(name, version);
  }
  return installed;
}

/** Packages from `names` that dpkg does not have installed. */
export async function missingPackages(names: readonly string[]): Promise<string[]> {
  const installed = await installedVersions(names);
  return names.filter((name) => !installed.has(name));
}

/** Installs what is missing (root), or stops with the command to run (non-root). */
export async function ensurePackages(names: readonly string[]): Promise<void> {
  if (!fs.existsSync('/usr/bin/dpkg-query')) {
    fail('no dpkg here: the scripts target Debian 12 (bookworm) and install prerequisites with apt', [
      `Install the equivalents of these Debian packages, then rerun: ${names.join(' ')}`,
    ]);
  }
  const missing = await missingPackages(names);
  if (missing.length === 0) {
    say.info(`all ${names.length} Debian packages present`);
    return;
  }
  const install = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (!isRoot()) {
    fail(`missing Debian packages: ${missing.join(', ')}`, [
      'Install them as root, then rerun this command:',
      `  ${asRoot('apt-get update')}`,
      `  ${asRoot(install)}`,
    ]);
  }
  await aptUpdate();
  say.info(`installing ${missing.join(' ')}…`);
  await aptGet(['install', '-y', '--no-install-recommends', ...missing], 'apt-get install', (line) =>
    line.startsWith('Setting up ') ? `    ${line}` : undefined,
  );
  const still = await missingPackages(missing);
  if (still.length > 0) fail(`apt-get install did not install: ${still.join(', ')}`, [`Try by hand: ${install}`]);
}

/**
 * apt-get install of `targets` (package=version specs or ./file.deb paths) as
 * root, downgrades allowed: `npm run deb -- --install` puts the built
 * libzmq5 in and the stock one back.
 */
export async function aptInstall(targets: readonly string[]): Promise<void> {
  if (!isRoot()) fail('installing packages needs root', ['Run as root, then rerun this command.']);
  await aptUpdate();
  await aptGet(['install', '-y', '--no-install-recommends', '--allow-downgrades', ...targets], `apt-get install ${targets.join(' ')}`, (line) =>
    line.startsWith('Setting up ') ? `    ${line}` : undefined,
  );
}

/** Installs the Build-Depends of the unpacked source package in `dir` (apt-get build-dep ./; root only). */
export async function ensureBuildDependencies(dir: string): Promise<void> {
  const cmd = `apt-get build-dep -y --no-install-recommends ${dir}`;
  if (!isRoot()) fail('installing Build-Depends needs root', ['Run as root, then rerun this command:', `  ${asRoot(cmd)}`]);
  await aptUpdate();
  await aptGet(['build-dep', '-y', '--no-install-recommends', dir], 'apt-get build-dep', (line) => (line.startsWith('Setting up ') ? `    ${line}` : undefined));
  say.info(`Build-Depends of ${path.basename(dir)} installed`);
}

interface IndexTarget {
  identifier: string;
  uri: string;
  release: string;
  component: string;
}

/** The repositories apt is configured with (from sources.list[.d], not the downloaded lists). */
async function indexTargets(): Promise<IndexTarget[]> {
  const out = await probe(['apt-get', 'indextargets', '--format', '$(IDENTIFIER)|$(REPO_URI)|$(RELEASE)|$(COMPONENT)']);
  return out.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [identifier = '', uri = '', release = '', component = ''] = line.split('|');
      return { identifier, uri, release, component };
    });
}

const DEFAULT_MIRROR = 'http://deb.debian.org/debian/';
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

export function debSrcFile(base: DebianBase): string {
  return `/etc/apt/sources.list.d/zmq-fd-${base.codename}-src.sources`;
}

/** A deb822 deb-src entry that uses the mirror already configured for binaries. */
function debSrcEntry(base: DebianBase, targets: readonly IndexTarget[]): string {
  const binary = targets.find((t) => t.identifier === 'Packages' && t.release === base.codename && t.component === 'main');
  const lines = ['Types: deb-src', `URIs: ${binary?.uri ?? DEFAULT_MIRROR}`, `Suites: ${base.codename}`, 'Components: main'];
  if (fs.existsSync(KEYRING)) lines.push(`Signed-By: ${KEYRING}`);
  return `${lines.join('\n')}\n`;
}

async function sourceVersions(pkg: string): Promise<string[]> {
  const out = await probe(['apt-cache', 'showsrc', '--only-source', pkg]);
  return [...out.stdout.matchAll(/^Version: (\S+)$/gm)].map((m) => m[1] ?? '');
}

export type Readiness = { ok: true } | { ok: false; why: string; todo: string[] };

/**
 * Makes `apt-get source <package>=<version>` possible: adds the deb-src entry and
 * refreshes the index as root; otherwise says which commands to run.
 */
export async function ensureSourceIndex(base: DebianBase): Promise<Readiness> {
  if ((await sourceVersions(base.package)).includes(base.version)) return { ok: true };
  const targets = await indexTargets();
  const hasEntry = targets.some((t) => t.identifier === 'Sources' && t.release === base.codename);
  const file = debSrcFile(base);
  if (!isRoot()) {
    const todo = [`Get Debian's source: rerun as root (it does the following itself), or run this as root and rerun:`];
    const entry = debSrcEntry(base, targets).trimEnd().split('\n');
    if (!hasEntry) todo.push(`    ${asRoot(`tee ${file} >/dev/null <<'EOF'`)}`, ...entry.map((l) => `    ${l}`), '    EOF');
    todo.push(`    ${asRoot('apt-get update')}`);
    const why = hasEntry ? `the deb-src index for ${base.codename} is not downloaded` : `no deb-src entry for ${base.codename}`;
    return { ok: false, why: `${why}, and not root`, todo };
  }
  if (!hasEntry) {
    say.info(`adding ${file}`);
    fs.writeFileSync(file, debSrcEntry(base, targets));
  }
  listsFresh = false;
  await aptUpdate();
  const versions = await sourceVersions(base.package);
  if (versions.includes(base.version)) return { ok: true };
  return {
    ok: false,
    why: `apt's source index has ${base.package} ${versions.join(', ') || '(none)'}, not ${base.version}`,
    todo: [`This base needs Debian ${base.codename}'s deb-src; check ${file} and \`apt-cache showsrc ${base.package}\`.`],
  };
}

/** Where `apt-get source` puts a Debian base: build/downloads/<package>-<version>/<package>-<upstream>/. */
export function debianSourcePaths(def: DebianBase) {
  const dir = path.join(paths.downloads, `${def.package}-${def.version}`);
  const upstream = def.version.replace(/-[^-]+$/, '');
  return {
    dir,
    tree: path.join(dir, `${def.package}-${upstream}`),
    log: path.join(dir, 'apt-get-source.log'),
    /** Written last: a half-finished download or unpack must not be reused. */
    complete: path.join(dir, '.complete'),
  };
}

/** The unpacked tree (with Debian's quilt patches applied), downloading it unless already here. */
export async function aptGetSource(def: DebianBase): Promise<string> {
  const where = debianSourcePaths(def);
  if (fs.existsSync(where.complete) && fs.existsSync(where.tree)) return where.tree;
  fs.rmSync(where.dir, { recursive: true, force: true });
  fs.mkdirSync(where.dir, { recursive: true });
  await run(['apt-get', 'source', '-q', `${def.package}=${def.version}`], {
    cwd: where.dir,
    log: where.log,
    what: `apt-get source ${def.package}=${def.version}`,
  });
  if (!fs.existsSync(where.tree)) fail(`apt-get source did not unpack ${where.tree}`, [`See the log: ${where.log}`]);
  fs.writeFileSync(where.complete, `${def.package} ${def.version}\n`);
  return where.tree;
}
