// `make rpm` and `make deb` package exactly what `make install-dom0` / `make install-vm PREFIX=/usr` install (same paths, modes
// and bytes), each package installs into an empty root and uninstalls from it leaving none of its files, and two builds of
// the same files give the same bytes. The package managers run as a normal user (as nobody, through setpriv, when the tests
// run as root): rpm with its database inside the root, dpkg with --force-not-root and an admin directory of its own;
// --nodeps/--force-depends because the empty root has no nodejs, rpm --noscripts because its %post (systemd-tmpfiles)
// cannot run in an empty root.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';

const tmp = useTmpDir();
const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const rpmName = (side: 'dom0' | 'vm') => `split-dm-crypt-${side}-${version}-1.noarch.rpm`;
const debName = `split-dm-crypt-vm_${version}-1_all.deb`;
/** rpm's own database and scratch space, inside the root (rpm puts --dbpath under --root): left out of every comparison. */
const RPM_DB = 'rpmdb';

const run = (command: string, args: readonly string[]): string => execFileSync(command, args, { stdio: 'pipe', encoding: 'utf8' });
/** nobody: who installs and uninstalls the packages when the tests run as root. */
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
/** Who owns what the package managers install: they ran without root. */
const unprivilegedUid = asRoot ? NOBODY : process.getuid!();
/** `command` as a normal user: this one, or nobody when this one is root. */
function runUnprivileged(command: string, args: readonly string[]): string {
  const [program, argv] = asRoot ? ['setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', command, ...args]] : [command, args];
  return execFileSync(program, argv, { stdio: 'pipe', encoding: 'utf8', env: { ...process.env, HOME: tmp } });
}
/** A new directory the unprivileged user owns. */
function ownedDir(path: string): string {
  mkdirSync(path, { recursive: true });
  if (asRoot) chownSync(path, NOBODY, NOBODY);
  return path;
}
// The temporary directory is 0700: nobody must reach the packages and its roots in it.
chmodSync(tmp, 0o755);
/** `make -s`, without rebuilding the bundles (the global setup built them) nor installing the package builders (make test did). */
const make = (...args: string[]): string => run('make', ['-s', '-o', 'build', '-o', 'deps-packages', ...args]);

/** Every path under `root` with its type, mode and content hash (directories too), except those starting with `skip`. */
function snapshot(root: string, skip?: string): Map<string, string> {
  const entries = new Map<string, string>();
  const walk = (relative: string): void => {
    for (const name of readdirSync(join(root, relative)).sort()) {
      const path = relative ? `${relative}/${name}` : name;
      if (skip !== undefined && path === skip) continue;
      const stat = lstatSync(join(root, path));
      const mode = (stat.mode & 0o7777).toString(8);
      if (stat.isDirectory()) {
        entries.set(path, `dir ${mode}`);
        walk(path);
      } else if (stat.isFile()) {
        entries.set(path, `file ${mode} ${createHash('sha256').update(readFileSync(join(root, path))).digest('hex')}`);
      } else {
        entries.set(path, `other ${mode}`);
      }
    }
  };
  walk('');
  return entries;
}

/** The files (not directories) of a snapshot. */
const filesOf = (tree: Map<string, string>): string[] => [...tree].filter(([, what]) => !what.startsWith('dir')).map(([path]) => path);

function buildAll(dir: string): void {
  make('rpm', 'deb', `PKGDIR=${dir}`);
}

const built = join(tmp, 'built');
buildAll(built);
const reference = { dom0: join(tmp, 'ref-dom0'), vm: join(tmp, 'ref-vm') };
make('install-dom0', `DESTDIR=${reference.dom0}`);
make('install-vm', `DESTDIR=${reference.vm}`, 'PREFIX=/usr');

function rpm(root: string, ...args: string[]): string {
  return runUnprivileged('rpm', ['--root', root, '--dbpath', `/${RPM_DB}`, '--define', `_tmppath /${RPM_DB}/tmp`, ...args]);
}

function dpkg(root: string, admin: string, ...args: string[]): string {
  return runUnprivileged('dpkg', ['--force-not-root', `--root=${root}`, `--admindir=${admin}`, '--log=/dev/null', ...args]);
}

describe('make rpm', () => {
  for (const side of ['dom0', 'vm'] as const) {
    it(`split-dm-crypt-${side} installs what make install-${side} installs into an empty root, and uninstalls all of it`, () => {
      const root = ownedDir(join(tmp, `rpm-root-${side}`));
      rpm(root, '--nodeps', '--noscripts', '-i', join(built, rpmName(side)));
      expect(rpm(root, '-qa')).toBe(`split-dm-crypt-${side}-${version}-1.noarch\n`);
      expect(snapshot(root, RPM_DB)).toEqual(snapshot(reference[side]));
      expect(lstatSync(join(root, 'usr/lib/split-dm-crypt')).uid).toBe(unprivilegedUid);
      rpm(root, '-e', `split-dm-crypt-${side}`);
      const left = snapshot(root, RPM_DB);
      // No file of ours remains; what remains are the directories above them, which the package does not own (they
      // belong to the system's own packages: /etc, /usr/bin, ...), never /usr/lib/split-dm-crypt, which it owns.
      expect(filesOf(left)).toEqual([]);
      expect(left.has('usr/lib/split-dm-crypt')).toBe(false);
      for (const dir of left.keys()) expect(filesOf(snapshot(reference[side])).some((file) => file.startsWith(`${dir}/`))).toBe(true);
    });
  }

  it('names its version, noarch, and what each side needs at run time', () => {
    const query = (side: 'dom0' | 'vm', format: string): string => run('rpm', ['-qp', '--qf', format, join(built, rpmName(side))]);
    for (const side of ['dom0', 'vm'] as const) {
      expect(query(side, '%{NAME} %{VERSION} %{ARCH}')).toBe(`split-dm-crypt-${side} ${version} noarch`);
      expect(run('rpm', ['-qpR', join(built, rpmName(side))])).toContain('nodejs >= 1:18.19\n');
    }
    const dom0Requires = run('rpm', ['-qpR', join(built, rpmName('dom0'))]);
    expect(dom0Requires).toContain('qubes-core-admin-client\n');
    const vmRequires = run('rpm', ['-qpR', join(built, rpmName('vm'))]).split('\n');
    expect(vmRequires).toEqual(expect.arrayContaining(['device-mapper', 'util-linux', 'coreutils', 'bash']));
    expect(run('rpm', ['-qp', '--recommends', join(built, rpmName('vm'))])).toBe('cryptsetup\n');
    // dom0's policy is configuration an administrator may tighten: an edited one survives an update.
    expect(query('dom0', '[%{FILEFLAGS:fflags} %{FILENAMES}\n]')).toContain('cn /etc/qubes/policy.d/50-split-dm-crypt.policy\n');
    expect(run('rpm', ['-qp', '--scripts', join(built, rpmName('dom0'))])).toMatch(/systemd-tmpfiles --create \/usr\/lib\/tmpfiles.d\/qubes-split-dm-crypt.conf/);
  });
});

describe('make deb', () => {
  it('split-dm-crypt-vm installs what make install-vm installs into an empty root, and uninstalls all of it', () => {
    const root = ownedDir(join(tmp, 'deb-root'));
    const admin = ownedDir(join(tmp, 'deb-admin'));
    for (const dir of ['info', 'updates', 'triggers']) ownedDir(join(admin, dir));
    writeFileSync(join(admin, 'status'), '');
    if (asRoot) chownSync(join(admin, 'status'), NOBODY, NOBODY);
    dpkg(root, admin, '--force-depends', '-i', join(built, debName));
    expect(snapshot(root)).toEqual(snapshot(reference.vm));
    expect(lstatSync(join(root, 'usr/lib/split-dm-crypt')).uid).toBe(unprivilegedUid);
    dpkg(root, admin, '--purge', 'split-dm-crypt-vm');
    // dpkg owns the directories it unpacked and removes them once empty: nothing at all is left.
    expect([...snapshot(root).keys()]).toEqual([]);
  });

  it('names its version, all, and what a Debian template needs at run time', () => {
    const field = (name: string): string => run('dpkg-deb', ['-f', join(built, debName), name]).trim();
    expect(field('Package')).toBe('split-dm-crypt-vm');
    expect(field('Version')).toBe(`${version}-1`);
    expect(field('Architecture')).toBe('all');
    expect(field('Depends').split(', ')).toEqual(expect.arrayContaining(['nodejs (>= 18.19)', 'dmsetup', 'util-linux', 'bsdutils']));
    expect(field('Recommends')).toBe('cryptsetup-bin');
  });
});

describe('package builds', () => {
  it('are reproducible: the same files give the same bytes, whatever their times', () => {
    const again = join(tmp, 'again');
    utimesSync('dist/qvm-block-split.mjs', new Date(), new Date(Date.now() - 3600_000));
    utimesSync('dist/split-dm-crypt-luks.mjs', new Date(), new Date(Date.now() - 7200_000));
    buildAll(again);
    for (const name of [rpmName('dom0'), rpmName('vm'), debName]) {
      expect(readFileSync(join(again, name)).equals(readFileSync(join(built, name))), name).toBe(true);
    }
  });
});
