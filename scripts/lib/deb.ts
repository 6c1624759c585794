// `npm run deb`: Debian's zeromq3 4.3.4-6 rebuilt with the zmq-fd series in
// debian/patches/, by Debian's own build (dpkg-buildpackage: dh with
// autoreconf, Debian's configure flags, drafts off). Pure functions here (the
// DEP-3 headers, the changelog stanza, the rules fix, the version) so that
// tests/deb.test.ts can check them without building anything.
import fs from 'node:fs';
import path from 'node:path';
import { debianSourcePaths } from './apt.ts';
import { paths, type DebianBase } from './config.ts';
import { fail } from './ui.ts';

/**
 * Appended to Debian's version: 4.3.4-6 → 4.3.4-6+0zmqfd1. It must sort above
 * 4.3.4-6 (so it upgrades the stock package) and below any update Debian
 * makes of 4.3.4-6: a security or point-release update (+deb12u1), a binNMU
 * (+b1), an NMU (-6.1), the next revision (-7). dpkg compares the revision's
 * non-digit runs character by character, letters before other characters and
 * the end of a run before anything but `~`: after `6`, our run is `+` and
 * Debian's is `+deb`, `+b` or `.`, and `+` ends first (or sorts before `.`),
 * so ours is lower; against plain `6`, `+` beats the end. A suffix starting
 * with a letter (`+zmqfd1`) would not do: `+z` sorts above `+deb12u1`, so a
 * security update would never replace it. tests/deb.test.ts proves the order
 * with dpkg --compare-versions.
 */
export const VERSION_SUFFIX = '+0zmqfd1';

export const packageVersion = (base: DebianBase): string => `${base.version}${VERSION_SUFFIX}`;

/** dpkg --compare-versions checks (ours, relation, other) that the suffix must pass. */
export function versionOrder(base: DebianBase): [string, 'gt' | 'lt', string][] {
  const ours = packageVersion(base);
  return [
    [ours, 'gt', base.version],
    [ours, 'lt', `${base.version}+deb12u1`],
    [ours, 'lt', `${base.version}+deb12u2`],
    [ours, 'lt', `${base.version}+b1`],
    [ours, 'lt', `${base.version.replace(/-(\d+)$/, (_, r: string) => `-${r}.1`)}`],
    [ours, 'lt', '4.3.5-1'],
    [ours, 'lt', `${base.version}+0zmqfd2`],
  ];
}

/** Where `npm run deb` works: build/deb/. */
export function debPaths(base: DebianBase) {
  const dir = path.join(paths.build, 'deb');
  return {
    dir,
    /** The unpacked source package that dpkg-buildpackage builds (named as apt-get source names it); its products land in `dir`. */
    tree: path.join(dir, path.basename(debianSourcePaths(base).tree)),
    log: path.join(dir, 'build.log'),
    lintian: path.join(dir, 'lintian.txt'),
    /** `dpkg -x` of libzmq5 and libzmq3-dev: the library the matrix runs against. */
    extracted: path.join(dir, 'extracted'),
    /** Stock 4.3.4-6 .debs, for lintian's baseline. */
    stock: path.join(dir, 'stock'),
  };
}

/** Folder under debian/patches/ that holds the series (listed after Debian's own in `series`). */
export const PATCH_DIR = 'zmq-fd';

/** The upstream commits that a patch of the series is a cherry-pick of, by `(cherry picked from commit …)`. */
const cherryPick = (body: string): string | undefined => /\(cherry picked from commit ([0-9a-f]{7,40})\)/.exec(body)?.[1];

interface MailPatch {
  author: string;
  date: Date;
  subject: string;
  /** Commit message body, without the cherry-pick line. */
  body: string;
  upstreamCommit?: string;
  /** From the first `---` on: diffstat and diff, without git's signature. */
  diff: string;
}

/** Splits a `git format-patch` file into its commit message and its diff. */
export function parseMailPatch(text: string, name: string): MailPatch {
  const headerEnd = text.indexOf('\n\n');
  const diffStart = text.indexOf('\n---\n');
  if (headerEnd < 0 || diffStart < headerEnd) fail(`${name} is not a git format-patch file`, ['Re-export it: npm run series -- export debian']);
  // RFC 2822 folding: a line that starts with white space continues the previous one.
  const headers = new Map<string, string>();
  for (const line of text.slice(0, headerEnd).replace(/\n[ \t]+/g, ' ').split('\n')) {
    const m = /^([\w-]+): (.*)$/.exec(line);
    if (m?.[1] && m[2] !== undefined) headers.set(m[1].toLowerCase(), m[2]);
  }
  const message = text.slice(headerEnd + 2, diffStart).trim();
  const upstreamCommit = cherryPick(message);
  const body = message.replace(/\n?\(cherry picked from commit [0-9a-f]+\)/, '').trim();
  const diff = text.slice(diffStart + 1).replace(/\n-- \n[^\n]*\n*$/, '\n');
  return {
    author: headers.get('from') ?? fail(`${name} has no From: header`),
    date: new Date(headers.get('date') ?? fail(`${name} has no Date: header`)),
    subject: (headers.get('subject') ?? fail(`${name} has no Subject: header`)).replace(/^\[PATCH[^\]]*\]\s*/, ''),
    body,
    ...(upstreamCommit ? { upstreamCommit } : {}),
    diff,
  };
}

const UPSTREAM = 'https://github.com/zeromq/libzmq';

/**
 * The patch with a DEP-3 header (https://dep-team.pages.debian.net/deps/dep3/)
 * in place of the mail header: Description from the commit message, Author,
 * Origin (upstream with its commit for a cherry-pick, vendor otherwise),
 * Forwarded, Last-Update.
 */
export function withDep3(text: string, name: string): string {
  const p = parseMailPatch(text, name);
  // Long description: one space in front, an empty line as " .".
  const long = p.body.split('\n').map((line) => (line.trim() === '' ? ' .' : ` ${line}`));
  const fields = [
    `Description: ${p.subject}`,
    ...long,
    `Author: ${p.author}`,
    p.upstreamCommit ? `Origin: upstream, ${UPSTREAM}/commit/${p.upstreamCommit}` : `Origin: vendor, zmq-fd patches/debian-4.3.4/${name}`,
    p.upstreamCommit ? 'Forwarded: not-needed' : 'Forwarded: no',
    // The commit, not a release: the backports reached upstream in 4.3.5 (bd0a3489, ca8e30ed, de03c9a6) or after it (959a1335).
    ...(p.upstreamCommit ? [`Applied-Upstream: ${UPSTREAM}/commit/${p.upstreamCommit}`] : []),
    `Last-Update: ${p.date.toISOString().slice(0, 10)}`,
  ];
  return `${fields.join('\n')}\n${p.diff}`;
}

/**
 * bookworm's rules say `ifneq (, filter $(DEB_BUILD_ARCH_OS), kfreebsd hurd)`:
 * without `$( )` the filter is literal text, never empty, so DO_TEST is "no"
 * on every architecture and `-dh_auto_test` ignores every failure. Fixed, a
 * failing test fails the build on Linux; and test_fd must have run and passed.
 */
export function fixRules(rules: string): string {
  const broken = 'ifneq (, filter $(DEB_BUILD_ARCH_OS), kfreebsd hurd)';
  const plain = '\tdh_auto_test -- VERBOSE=1\n';
  if (!rules.includes(broken) || !rules.includes(plain)) {
    fail('debian/rules is not the one of zeromq3 4.3.4-6 (the DO_TEST check or dh_auto_test line moved)', ['Update fixRules in scripts/lib/deb.ts for this source.']);
  }
  const checked = `${plain}\t# zmq-fd: the fd transports' own test must have run, and passed.\n\tgrep -qx ':test-result: PASS' tests/test_fd.trs\n`;
  return rules.replace(broken, 'ifneq (, $(filter $(DEB_BUILD_ARCH_OS), kfreebsd hurd))').replace(plain, checked);
}

/** RFC 2822 date as debian/changelog wants it: "Mon, 30 Nov 2026 20:46:47 +0000". */
export function changelogDate(d: Date): string {
  const [day, date, month, year, time] = d.toUTCString().replace(',', '').split(' ');
  return `${day}, ${date} ${month} ${year} ${time} +0000`;
}

/** Word-wraps `text` to 80 columns after `first`, continuing with `rest`. */
function wrap(text: string, first: string, rest: string): string[] {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(/\s+/)) {
    if (line.length + word.length + 1 > 79 && line.trim() !== first.trim()) {
      lines.push(line);
      line = rest;
    }
    line += (line === first || line === rest ? '' : ' ') + word;
  }
  return [...lines, line];
}

/**
 * The changelog stanza of the rebuilt package. Its first item says "Local
 * package": this is no upload to Debian, and lintian (Check/Nmu.pm) then
 * does not take a signer other than the Maintainer for a non-maintainer upload.
 */
export function changelogStanza(base: DebianBase, subjects: readonly string[], maintainer: string, when: Date): string {
  const items = [
    ...wrap(
      `Local package: add the fd://, tcp-fd:// and ipc-fd:// transports: bind or connect a ZeroMQ socket on a descriptor the application already has (socket activation, socketpair(2), inetd). The zmq-fd series, ${subjects.length} patches in debian/patches/${PATCH_DIR}/, applied after Debian's own:`,
      '  * ',
      '    ',
    ),
    ...subjects.flatMap((s) => wrap(s, '    - ', '      ')),
    ...wrap(
      'debian/rules: fix the DO_TEST check (its filter lacked $( ), so DO_TEST was always "no" and every test failure was ignored): the upstream test suite now fails the build, and test_fd must pass.',
      '  * ',
      '    ',
    ),
  ];
  return [`${base.package} (${packageVersion(base)}) ${base.codename}; urgency=medium`, '', ...items, '', ` -- ${maintainer}  ${changelogDate(when)}`, '', ''].join('\n');
}

/** Automake's test summary and per-test results, from the build log. */
export interface PackageTests {
  counts: Record<string, number>;
  /** Tests whose result is FAIL, ERROR or XPASS. */
  failed: string[];
  testFd?: string;
}

export function parseTestResults(log: string): PackageTests {
  const counts: Record<string, number> = {};
  for (const m of log.matchAll(/^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):\s+(\d+)$/gm)) counts[m[1] ?? ''] = Number(m[2]);
  const results = [...log.matchAll(/^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR): (tests\/\S+)/gm)];
  const failed = results.filter((m) => m[1] === 'FAIL' || m[1] === 'ERROR' || m[1] === 'XPASS').map((m) => m[2] ?? '');
  const testFd = results.find((m) => m[2] === 'tests/test_fd')?.[1];
  return { counts, failed: [...new Set(failed)], ...(testFd ? { testFd } : {}) };
}

/** lintian lines as "X: package [type]: tag", without versions and details, for comparison with the stock package. */
export function lintianTags(output: string): string[] {
  const tags = output
    .split('\n')
    .map((line) => /^([EWIPXO]): (\S+?)(?: (source|binary|udeb|changes|buildinfo))?: (\S+)/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]}: ${m[2]}${m[3] ? ` ${m[3]}` : ''}: ${m[4]}`);
  return [...new Set(tags)].sort();
}
