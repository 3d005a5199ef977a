// `make tarball` carries everything a template and dom0 need: unpacked elsewhere, its install targets install the full set.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';

const tmp = useTmpDir();
const services = readdirSync('vm/services').map((f) => f.replace(/\.ts$/, ''));
const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const tarball = `split-dm-crypt-${version}.tar.gz`;

describe('make tarball', () => {
  it('installs every service, the CLI, udev rules and policy from the unpacked tarball alone', () => {
    // `-o build`: the bundles were built by the global setup; the target itself only packs.
    execFileSync('make', ['-s', '-o', 'build', 'tarball'], { stdio: 'pipe' });
    const unpacked = join(tmp, 'unpacked');
    execFileSync('mkdir', ['-p', unpacked]);
    execFileSync('tar', ['-xzf', tarball, '-C', unpacked]);
    expect(existsSync(join(unpacked, 'dist/qubes-sim.mjs'))).toBe(false);
    const template = join(tmp, 'template');
    const dom0 = join(tmp, 'dom0');
    execFileSync('make', ['-s', '-C', unpacked, 'install-vm', `DESTDIR=${template}`, 'PREFIX=/usr'], { stdio: 'pipe' });
    execFileSync('make', ['-s', '-C', unpacked, 'install-dom0', `DESTDIR=${dom0}`], { stdio: 'pipe' });
    for (const service of services) {
      expect(existsSync(join(template, 'etc/qubes-rpc', service))).toBe(true);
      expect(existsSync(join(template, 'usr/lib/split-dm-crypt', `${service}.mjs`))).toBe(true);
    }
    expect(readdirSync(join(template, 'usr/lib/udev/rules.d')).sort()).toEqual(readdirSync('vm/udev').sort());
    expect(existsSync(join(dom0, 'usr/bin/qvm-block-split'))).toBe(true);
    expect(readdirSync(join(dom0, 'etc/qubes/policy.d'))).toEqual(['50-split-dm-crypt.policy']);
    // The wrapper runs the bundle from the installed tree.
    const help = execFileSync(join(dom0, 'usr/bin/qvm-block-split'), ['--help']).toString();
    expect(help).toMatch(/usage: qvm-block-split attach/);
    expect(execFileSync(join(dom0, 'usr/bin/qvm-block-split'), ['--version']).toString()).toBe(`qvm-block-split ${version}\n`);
  });

  it('is reproducible: the same files give the same bytes, whatever their times', () => {
    execFileSync('make', ['-s', '-o', 'build', 'tarball'], { stdio: 'pipe' });
    const first = readFileSync(tarball);
    utimesSync('dist/qvm-block-split.mjs', new Date(), new Date(Date.now() - 3600_000));
    execFileSync('make', ['-s', '-o', 'build', 'tarball'], { stdio: 'pipe' });
    expect(readFileSync(tarball).equals(first)).toBe(true);
  });

  it('needs only the npm packages: it installs no QEMU and builds no kernel', () => {
    const plan = execFileSync('make', ['-n', 'tarball'], { stdio: 'pipe' }).toString();
    expect(plan).toMatch(/install-deps\.sh npm/);
    expect(plan).not.toMatch(/install-deps\.sh all|guest-kernel/);
  });
});
