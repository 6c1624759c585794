// `npm run deb`: builds libzmq5 and libzmq3-dev from bookworm's zeromq3
// 4.3.4-6 with the zmq-fd series in debian/patches/, by Debian's own build;
// then lintian, and the matrix against the built library (`npm test --
// --library` on a `dpkg -x` of the .debs). Everything goes to build/deb/.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { aptGetSource, aptInstall, ensureBuildDependencies, ensurePackages, installedVersions, isRoot } from './lib/apt.ts';
import { JOBS } from './lib/build.ts';
import { ROOT, baseOfKind, paths, type DebianBase } from './lib/config.ts';
import {
  PATCH_DIR,
  changelogStanza,
  debPaths,
  fixRules,
  lintianTags,
  packageVersion,
  parseMailPatch,
  parseTestResults,
  withDep3,
} from './lib/deb.ts';
import { capture, gitQuery, probe, relative, run, step } from './lib/proc.ts';
import { seriesFiles } from './lib/tree.ts';
import { elapsed, fail, main, say } from './lib/ui.ts';

/** Tools `npm run deb` needs beyond the build's prerequisites and Build-Depends. */
const DEB_TOOLS = ['dpkg-dev', 'debhelper', 'fakeroot', 'lintian'] as const;

type Where = ReturnType<typeof debPaths>;

/** PATH for dpkg-buildpackage: sbuild's. */
const BUILD_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/** Who signs the changelog entry: $DEBFULLNAME <$DEBEMAIL>, else this repository's git identity. */
async function maintainer(): Promise<string> {
  const name = process.env.DEBFULLNAME || (await gitQuery(ROOT, 'config', 'user.name')) || 'zmq-fd';
  const email = process.env.DEBEMAIL || (await gitQuery(ROOT, 'config', 'user.email')) || 'zmq-fd@localhost';
  return `${name} <${email}>`;
}

/** A fresh unpack of the .dsc in build/deb/, with the series, the rules fix and the changelog entry. */
async function prepareSource(base: DebianBase, where: Where): Promise<void> {
  await aptGetSource(base);
  const download = path.join(paths.downloads, `${base.package}-${base.version}`);
  const dsc = path.join(download, `${base.package}_${base.version}.dsc`);
  fs.rmSync(where.dir, { recursive: true, force: true });
  fs.mkdirSync(where.dir, { recursive: true });
  // The orig tarball next to the tree, for the source package dpkg-buildpackage also builds.
  for (const file of fs.readdirSync(download).filter((f) => f.includes('.orig.'))) fs.symlinkSync(path.join(download, file), path.join(where.dir, file));
  await run(['dpkg-source', '-x', dsc, where.tree], { log: where.log, what: `dpkg-source -x ${relative(dsc)}` });

  const debian = path.join(where.tree, 'debian');
  const patchDir = path.join(debian, 'patches', PATCH_DIR);
  fs.mkdirSync(patchDir, { recursive: true });
  const subjects: string[] = [];
  const entries: string[] = [];
  for (const file of seriesFiles('debian')) {
    const name = path.basename(file);
    const text = fs.readFileSync(file, 'utf8');
    subjects.push(parseMailPatch(text, name).subject);
    fs.writeFileSync(path.join(patchDir, name), withDep3(text, name));
    entries.push(`${PATCH_DIR}/${name}`);
  }
  fs.appendFileSync(path.join(debian, 'patches', 'series'), `${entries.join('\n')}\n`);
  say.info(`debian/patches/${PATCH_DIR}/: ${entries.length} patches with DEP-3 headers, appended to debian/patches/series`);

  const rules = path.join(debian, 'rules');
  fs.writeFileSync(rules, fixRules(fs.readFileSync(rules, 'utf8')));
  say.info('debian/rules: DO_TEST fixed (test failures fail the build), test_fd must pass');

  const changelog = path.join(debian, 'changelog');
  fs.writeFileSync(changelog, changelogStanza(base, subjects, await maintainer(), new Date()) + fs.readFileSync(changelog, 'utf8'));
  say.info(`debian/changelog: ${packageVersion(base)}`);
}

/** Compact progress over dpkg-buildpackage's output: debhelper steps, compile counts, test results. */
function buildProgress(): (line: string) => string | undefined {
  let compiled = 0;
  let tests = 0;
  let lastStep = '';
  return (line) => {
    const dh = /^\s+(dh_[a-z_]+|dpkg-[a-z]+)\b/.exec(line)?.[1];
    if (dh && dh !== lastStep) {
      lastStep = dh;
      return `    [${elapsed()}] ${dh}`;
    }
    // Verbose (libtool) or silent (automake's `  CXX  file`) compile lines.
    if (/^(libtool: compile:|\s+CXX\s)/.test(line) && ++compiled % 100 === 0) return `    [${elapsed()}] ${compiled} compiler runs`;
    const result = /^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR): (tests\/\S+)/.exec(line);
    if (result) {
      tests++;
      if (result[1] !== 'PASS' && result[1] !== 'SKIP') return `    [${elapsed()}] ${line}`;
      if (result[2] === 'tests/test_fd' || tests % 25 === 0) return `    [${elapsed()}] ${tests} tests run; ${line}`;
    }
    if (/^# (TOTAL|PASS|SKIP|FAIL|ERROR):/.test(line)) return `    ${line}`;
    return undefined;
  };
}

/** The .changes of this build, and the .debs it lists. */
function products(base: DebianBase, where: Where): { changes: string; debs: string[] } {
  const version = packageVersion(base);
  const files = fs.readdirSync(where.dir);
  const changes = files.find((f) => f.startsWith(`${base.package}_${version}_`) && f.endsWith('.changes'));
  if (!changes) fail(`dpkg-buildpackage left no ${base.package}_${version}_*.changes in ${relative(where.dir)}`, [`See ${relative(where.log)}.`]);
  const debs = files.filter((f) => f.endsWith('.deb') && f.includes(`_${version}_`)).map((f) => path.join(where.dir, f));
  return { changes: path.join(where.dir, changes), debs };
}

/**
 * lintian -I on each file alone: given a .dsc and .debs together, or a
 * .changes, lintian 2.116 printed nothing for some of them (the source, here).
 */
async function lintianEach(files: readonly string[], log: string): Promise<string[]> {
  const tags: string[] = [];
  for (const file of files) tags.push(...lintianTags((await probe(['lintian', '-I', '--tag-display-limit', '0', file], { log })).stdout));
  return [...new Set(tags)].sort();
}

/** lintian on ours and on stock 4.3.4-6 (its .dsc, and its .debs from the archive): the errors and warnings that are new. */
async function lintian(base: DebianBase, where: Where, changes: string, debs: readonly string[]): Promise<string[]> {
  const tags = await lintianEach([changes.replace(/_[^_]+\.changes$/, '.dsc'), ...debs, changes], where.lintian);
  fs.mkdirSync(where.stock, { recursive: true });
  await probe(['apt-get', 'download', `libzmq5=${base.version}`, `libzmq3-dev=${base.version}`], { cwd: where.stock, log: where.lintian });
  const stockFiles = fs.readdirSync(where.stock).filter((f) => f.endsWith('.deb')).map((f) => path.join(where.stock, f));
  const dsc = path.join(paths.downloads, `${base.package}-${base.version}`, `${base.package}_${base.version}.dsc`);
  const baseline = new Set(await lintianEach([dsc, ...stockFiles], where.lintian));
  say.info(`lintian -I: ${tags.length} distinct tags on ours, ${baseline.size} on stock ${base.version} (its .dsc and ${stockFiles.length} .debs); full output: ${relative(where.lintian)}`);
  for (const tag of tags) say.info(`  ${baseline.has(tag) ? 'stock too' : 'NEW      '}  ${tag}`);
  return tags.filter((t) => !baseline.has(t) && /^[EW]:/.test(t));
}

/** `npm test -- --library` on the libzmq5 (and libzmq3-dev, for zmq.h) .debs, extracted. */
async function matrixOnPackage(where: Where, debs: readonly string[]): Promise<{ ok: boolean; library: string }> {
  fs.rmSync(where.extracted, { recursive: true, force: true });
  const wanted = debs.filter((d) => /\/(libzmq5|libzmq3-dev)_/.test(d));
  for (const deb of wanted) await run(['dpkg', '-x', deb, where.extracted], { what: `dpkg -x ${relative(deb)}` });
  const library = (await capture(['find', where.extracted, '-name', 'libzmq.so.5'])).split('\n')[0];
  if (!library) fail(`no libzmq.so.5 in ${relative(where.extracted)}`, ['Check the libzmq5 .deb: dpkg -c build/deb/libzmq5_*.deb']);
  say.info(`npm test -- --library=${relative(library)}`);
  const out = await probe([path.join(ROOT, 'node_modules', '.bin', 'tsx'), 'scripts/test.ts', `--library=${library}`], {
    cwd: ROOT,
    log: path.join(where.dir, 'matrix.log'),
    env: { ZMQ_FD_REPORTS: path.join(where.dir, 'reports') },
    onLine: (line) => (/^(\S+: \d+ passed|\d+ passed, \d+ failed|library under test|Conformance matrix|error:|not ok )/.test(line) ? `    ${line}` : undefined),
  });
  return { ok: out.ok, library };
}

/**
 * Debian's own python3-zmq (pyzmq, linked to libzmq.so.5) on the built
 * library, through the loader path as an installed package would be found:
 * zmq.has('fd'). Undefined when python3-zmq is not installed.
 */
async function pyzmqHasFd(library: string | undefined): Promise<string | undefined> {
  const script = "import zmq, os; print(zmq.zmq_version(), zmq.has('fd'), os.path.realpath([l.split()[-1] for l in open('/proc/self/maps') if 'libzmq.so' in l][0]))";
  const out = await probe(['/usr/bin/python3', '-c', script], { env: { ...(library ? { LD_LIBRARY_PATH: path.dirname(library) } : {}), PATH: BUILD_PATH } });
  if (!out.ok) return undefined;
  return out.stdout.trim();
}

/** The version of an installed package, or undefined. */
const installedVersion = async (name: string): Promise<string | undefined> => (await installedVersions([name])).get(name);

/**
 * --install: the built libzmq5 installed over the machine's, Debian's own
 * python3-zmq asked (no LD_LIBRARY_PATH: the loader finds the package), then
 * the libzmq5 that was there put back, so that the machine's stock library,
 * which the library suite and the examples' stock peers use, is stock again.
 */
async function installAndCheck(base: DebianBase, debs: readonly string[]): Promise<boolean> {
  const deb = debs.find((d) => path.basename(d).startsWith('libzmq5_'));
  if (!deb) fail('no libzmq5 .deb was built', ['Rebuild: npm run deb']);
  const before = await installedVersion('libzmq5');
  await aptInstall([deb]);
  const installed = await installedVersion('libzmq5');
  const seen = await pyzmqHasFd(undefined);
  say.info(`libzmq5 ${before ?? '(none)'} → ${installed}; python3-zmq says: ${seen ?? 'python3-zmq is not installed'}`);
  await aptInstall([`libzmq5=${before ?? base.version}`]);
  say.info(`libzmq5 ${(await installedVersion('libzmq5')) ?? '(none)'} again`);
  return installed === packageVersion(base) && seen !== undefined && / True /.test(seen);
}

/** Source, Build-Depends, dpkg-buildpackage; the build's upstream tests must have passed. Returns how long it took. */
async function buildPackages(base: DebianBase, where: Where, check: boolean): Promise<string> {
  say.step(`Source: ${base.package} ${base.version} + zmq-fd series → ${packageVersion(base)}`);
  await prepareSource(base, where);

  say.step('Build-Depends');
  await ensureBuildDependencies(where.tree);

  say.step(`dpkg-buildpackage (source and binary; parallel=${JOBS}; the upstream test suite runs in it)`);
  const start = Date.now();
  const options = [`parallel=${JOBS}`, ...(check ? [] : ['nocheck'])].join(' ');
  await step('dpkg-buildpackage -us -uc', ['dpkg-buildpackage', '-us', '-uc'], {
    cwd: where.tree,
    log: where.log,
    // The system's tools only, as sbuild and Debian's buildds run it: a python3 or
    // node earlier in $PATH (pyenv, nvm) would run asciidoc without its module.
    env: { DEB_BUILD_OPTIONS: options, PATH: BUILD_PATH },
    onLine: buildProgress(),
    todo: [
      `See ${relative(where.log)}: a failing upstream test is listed above its "# TOTAL" summary, and tests/*.log in ${relative(where.tree)} has its output.`,
      'A test that fails only under load can be rerun: npm run deb. To build without the tests: npm run deb -- --no-check.',
    ],
  });
  const took = elapsed(start);
  if (check) {
    const tests = parseTestResults(fs.readFileSync(where.log, 'utf8'));
    const c = tests.counts;
    say.info(`upstream tests in the package build: ${c.TOTAL ?? '?'} total, ${c.PASS ?? '?'} pass, ${c.SKIP ?? 0} skip, ${c.XFAIL ?? 0} xfail, ${c.FAIL ?? 0} fail, ${c.ERROR ?? 0} error; test_fd: ${tests.testFd ?? 'not run'}`);
    if (tests.testFd !== 'PASS' || tests.failed.length > 0) fail(`the package build's tests did not all pass (test_fd: ${tests.testFd ?? 'not run'}; failed: ${tests.failed.join(', ') || 'none'})`, [`See ${relative(where.log)}.`]);
  }
  return took;
}

const USAGE = `Usage: npm run deb [-- --no-check | --verify] [--install]

Builds the zeromq3 packages with the zmq-fd series into build/deb/ (as root: installs
Build-Depends), then runs lintian and the matrix on the built library.
  --no-check  build without the package build's tests (DEB_BUILD_OPTIONS=nocheck)
  --verify    do not build: lintian, matrix and pyzmq on the packages already in build/deb/
  --install   also install the built libzmq5, check python3-zmq with it, and put the machine's libzmq5 back`;

main(async () => {
  const { values } = parseArgs({ options: { help: { type: 'boolean', short: 'h' }, 'no-check': { type: 'boolean' }, verify: { type: 'boolean' }, install: { type: 'boolean' } } });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const base = baseOfKind('debian', 'debian');
  const where = debPaths(base);
  if (!isRoot()) {
    fail('npm run deb installs Build-Depends and builds as root', ['Rerun as root (or in a container as root): npm run deb']);
  }

  say.step('Tools');
  await ensurePackages(DEB_TOOLS);
  const took = values.verify ? 'not rebuilt, --verify' : `built in ${await buildPackages(base, where, !values['no-check'])}`;
  const { changes, debs } = products(base, where);
  say.info(`${took}: ${debs.map((d) => path.basename(d)).join(', ')}`);

  say.step('lintian');
  const newTags = await lintian(base, where, changes, debs);

  say.step('Conformance matrix on the built libzmq5 (dpkg -x)');
  const matrix = await matrixOnPackage(where, debs);
  const matrixOk = matrix.ok;

  say.step("Debian's python3-zmq on the built library (LD_LIBRARY_PATH, as if installed)");
  const pyzmq = await pyzmqHasFd(matrix.library);
  say.info(pyzmq === undefined ? 'python3-zmq is not installed (apt-get install python3-zmq): not checked' : `zmq_version, zmq.has('fd'), library loaded: ${pyzmq}`);
  const pyzmqOk = pyzmq === undefined || / True /.test(pyzmq);

  let installOk = true;
  if (values.install) {
    say.step("Installed: the built libzmq5 over the machine's, python3-zmq, then the machine's back");
    installOk = await installAndCheck(base, debs);
  }

  say.step('Done');
  say.info(`version:  ${packageVersion(base)} (${took})`);
  say.info(`packages: ${relative(where.dir)}/ (${relative(changes)})`);
  say.info(`lintian:  ${newTags.length === 0 ? 'no errors or warnings beyond stock ' + base.version : `${newTags.length} new: ${newTags.join('; ')}`}`);
  say.info(`matrix:   ${matrixOk ? 'passed' : 'FAILED'} (log: ${relative(path.join(where.dir, 'matrix.log'))})`);
  say.info(`install:  apt-get install ${debs.filter((d) => !d.includes('dbgsym')).map((d) => `./${relative(d)}`).join(' ')}`);
  if (pyzmq !== undefined) say.info(`pyzmq:    zmq.has('fd') ${pyzmqOk ? 'True' : 'False'} with the built library`);
  if (values.install) say.info(`install:  ${installOk ? "python3-zmq saw zmq.has('fd') True with the package installed" : 'FAILED (see above)'}`);
  if (newTags.length > 0 || !matrixOk || !pyzmqOk || !installOk) process.exitCode = 1;
});
