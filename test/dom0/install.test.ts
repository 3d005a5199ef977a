// The install targets, run for real into a temporary DESTDIR: every file in its place, wrappers that work from there,
// and uninstall leaving no file behind.
import { execa } from 'execa';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';

const services = readdirSync('vm/services').filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort();
const rules = readdirSync('vm/udev').filter((f) => f.endsWith('.rules')).sort();
const root = useTmpDir();

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(d, entry.name));
      else out.push(relative(dir, join(d, entry.name)));
    }
  };
  walk(dir);
  return out.sort();
}

const make = (...args: string[]) => execa('make', ['-s', ...args], { reject: false });

describe.each([
  ['/usr', 'etc/qubes-rpc', 'usr/lib/udev/rules.d'],
  ['/usr/local', 'usr/local/etc/qubes-rpc', 'usr/local/lib/udev/rules.d'],
])('make install-vm PREFIX=%s', (prefix, rpcDir, udevDir) => {
  const destdir = join(root, `vm${prefix.replaceAll('/', '-')}`);
  const lib = `${prefix.slice(1)}/lib/split-dm-crypt`;

  it('installs bundles, service wrappers, the command and the udev rules', async () => {
    const result = await make('install-vm', `DESTDIR=${destdir}`, `PREFIX=${prefix}`);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(services.length).toBeGreaterThan(0);
    expect(filesUnder(destdir)).toEqual(
      [
        ...services.map((s) => `${lib}/${s}.mjs`),
        `${lib}/split-dm-crypt-luks.mjs`,
        ...services.map((s) => `${rpcDir}/${s}`),
        `${prefix.slice(1)}/bin/split-dm-crypt-luks`,
        ...rules.map((r) => `${udevDir}/${r}`),
      ].sort(),
    );
    for (const service of services) {
      const wrapper = join(destdir, rpcDir, service);
      expect(statSync(wrapper).mode & 0o777).toBe(0o755);
      // packaging/wrapper.sh made for this service: one exec of node on its bundle, after the Node.js check (test/install).
      const text = readFileSync(wrapper, 'utf8');
      expect(text.split('\n')[0]).toBe('#!/bin/sh');
      expect(text).not.toMatch(/@[A-Z]+@/);
      const execs = text.split('\n').map((line) => line.trim()).filter((line) => line.startsWith('exec '));
      expect(execs).toHaveLength(1);
      // The bundle's directory, relative to the wrapper's own, is set once (the compile cache lives beside the bundles).
      const libs = text.split('\n').map((line) => line.trim()).filter((line) => line.startsWith('lib='));
      expect(libs).toHaveLength(1);
      expect(libs[0]).toMatch(/^lib=\$\(dirname "\$0"\)\/\.\.\/[^"\s]*$/);
      expect(execs[0]).toMatch(new RegExp(`^exec node "\\$lib/${service.replaceAll('.', '\\.')}\\.mjs" "\\$@"$`));
    }
  });

  it('has wrappers that reach their bundles from inside DESTDIR', async () => {
    const luks = await execa(join(destdir, prefix.slice(1), 'bin/split-dm-crypt-luks'), ['--help'], { reject: false });
    expect(luks.stdout + luks.stderr).toMatch(/usage: split-dm-crypt-luks/);
    const service = await execa(join(destdir, rpcDir, services[0]!), [], { reject: false, input: '', env: { QREXEC_REMOTE_DOMAIN: 'dom0' } });
    // The bundle ran (it refuses the empty request its own way); a wrong path would be node's "Cannot find module".
    expect(service.stderr).not.toMatch(/Cannot find module|not found/);
  });

  it('uninstalls exactly what it installed', async () => {
    const result = await make('uninstall-vm', `DESTDIR=${destdir}`, `PREFIX=${prefix}`);
    expect(result.exitCode).toBe(0);
    expect(filesUnder(destdir)).toEqual([]);
  });
});

describe('make install-dom0', () => {
  const destdir = join(root, 'dom0');

  it('installs the command, config example, policy and run-directory entry, then uninstalls them', async () => {
    expect((await make('install-dom0', `DESTDIR=${destdir}`)).exitCode).toBe(0);
    expect(filesUnder(destdir)).toEqual([
      'etc/qubes/policy.d/50-split-dm-crypt.policy',
      'etc/split-dm-crypt.conf.example',
      'usr/bin/qvm-block-split',
      'usr/lib/split-dm-crypt/qvm-block-split.mjs',
      'usr/lib/systemd/user/qvm-block-split-watch.service',
      'usr/lib/tmpfiles.d/qubes-split-dm-crypt.conf',
      'usr/share/man/man1/qvm-block-split.1',
    ]);
    // The watch unit runs the installed command, whatever the prefix.
    expect(readFileSync(join(destdir, 'usr/lib/systemd/user/qvm-block-split-watch.service'), 'utf8')).toMatch(/^ExecStart=\/usr\/bin\/qvm-block-split watch$/m);
    const manPage = join(destdir, 'usr/share/man/man1/qvm-block-split.1');
    expect(statSync(manPage).mode & 0o777).toBe(0o644);
    expect(readFileSync(manPage, 'utf8')).toMatch(/^\.TH QVM-BLOCK-SPLIT 1 /m);
    const help = await execa(join(destdir, 'usr/bin/qvm-block-split'), ['--help'], { reject: false });
    expect(help.stdout).toMatch(/^usage: qvm-block-split/);
    expect((await make('uninstall-dom0', `DESTDIR=${destdir}`)).exitCode).toBe(0);
    expect(filesUnder(destdir)).toEqual([]);
  });

  it('refuses to install what was not built', async () => {
    const result = await make('install-dom0', `DESTDIR=${join(root, 'none')}`, `DIST=${join(root, 'empty-dist')}`);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/run 'make build' first/);
  });
});
