// `npm run deb` (scripts/lib/deb.ts), what can be checked without building:
// the version suffix sorts where README "Debian package" says, by dpkg's own
// rules; every patch of the Debian series gets a DEP-3 header; the rules fix
// applies to bookworm's debian/rules.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { debianSourcePaths } from '../scripts/lib/apt.ts';
import { baseOfKind } from '../scripts/lib/config.ts';
import { VERSION_SUFFIX, fixRules, packageVersion, parseMailPatch, versionOrder, withDep3 } from '../scripts/lib/deb.ts';
import { seriesFiles } from '../scripts/lib/tree.ts';

const base = baseOfKind('debian', 'debian');

/** dpkg --compare-versions exits 0 when the relation holds. */
function holds(a: string, op: string, b: string): boolean {
  try {
    execFileSync('dpkg', ['--compare-versions', a, op, b], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

for (const [ours, op, other] of versionOrder(base)) {
  test(`dpkg --compare-versions ${ours} ${op} ${other}`, (t) => {
    t.true(holds(ours, op, other), `${ours} is not ${op} ${other} for dpkg`);
  });
}

test(`the obvious suffix +zmqfd1 would sort above a security update (why ${VERSION_SUFFIX})`, (t) => {
  t.true(holds(`${base.version}+zmqfd1`, 'gt', `${base.version}+deb12u1`));
  t.is(packageVersion(base), `${base.version}${VERSION_SUFFIX}`);
});

const patches = seriesFiles('debian');

test('the Debian series is there', (t) => {
  t.true(patches.length > 0);
});

for (const file of patches) {
  const name = path.basename(file);
  test(`DEP-3 header: ${name}`, (t) => {
    const text = fs.readFileSync(file, 'utf8');
    const out = withDep3(text, name);
    const header = out.slice(0, out.indexOf('\n---\n'));
    for (const field of ['Description', 'Author', 'Origin', 'Forwarded', 'Last-Update']) t.regex(header, new RegExp(`^${field}: \\S`, 'm'), field);
    t.regex(header, /^Last-Update: \d{4}-\d{2}-\d{2}$/m);
    t.false(/^(From |Subject: |Date: )/m.test(header), 'the mail header is gone');
    // The diff itself is untouched.
    t.true(text.includes(out.slice(out.indexOf('\n---\n') + 1).trimEnd().split('\n').slice(0, 50).join('\n')));
    const { upstreamCommit } = parseMailPatch(text, name);
    if (upstreamCommit) {
      t.regex(header, new RegExp(`^Origin: upstream, https://github.com/zeromq/libzmq/commit/${upstreamCommit}$`, 'm'));
    } else {
      t.regex(header, /^Origin: vendor, /m);
    }
  });
}

test("0001 is upstream's bd0a3489", (t) => {
  const first = patches[0] ?? '';
  t.regex(parseMailPatch(fs.readFileSync(first, 'utf8'), path.basename(first)).upstreamCommit ?? '', /^bd0a3489/);
});

const rules = path.join(debianSourcePaths(base).tree, 'debian', 'rules');
const hasSource = fs.existsSync(rules);
(hasSource ? test : test.skip)("fixRules: DO_TEST works, and test_fd's result is checked", (t) => {
  const fixed = fixRules(fs.readFileSync(rules, 'utf8'));
  t.true(fixed.includes('ifneq (, $(filter $(DEB_BUILD_ARCH_OS), kfreebsd hurd))'));
  t.true(fixed.includes("grep -qx ':test-result: PASS' tests/test_fd.trs"));
  t.throws(() => fixRules(fixed.replace('$(filter', 'filter(')));
});
