// The installed wrappers (packaging/wrapper.sh) run their bundle only with Node.js >= 18.19 as `node` on PATH; otherwise they
// say so in one line on stderr and exit 127, the code dom0 reads as "has no working <service>" (dom0/service-call.ts).
// Each case puts a fake `node` first on an otherwise node-free PATH and runs every installed wrapper through /bin/sh (dash
// here), then the dom0 one through busybox sh and bash --posix, the shells a POSIX script must also suit.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';

const tmp = useTmpDir();
const root = join(tmp, 'root');
const services = readdirSync('vm/services').map((f) => f.replace(/\.ts$/, ''));
spawnSync('make', ['-s', 'install-vm', 'install-dom0', `DESTDIR=${root}`, 'PREFIX=/usr'], { stdio: 'pipe' });

/** Every installed wrapper and the bundle it must run. */
const wrappers: readonly (readonly [string, string])[] = [
  ...services.map((s) => [join(root, 'etc/qubes-rpc', s), `${s}.mjs`] as const),
  [join(root, 'usr/bin/split-dm-crypt-luks'), 'split-dm-crypt-luks.mjs'],
  [join(root, 'usr/bin/qvm-block-split'), 'qvm-block-split.mjs'],
];

/** A PATH directory with `dirname` and, unless `version` is undefined, a fake node that prints it and records its argv. */
function fakePath(name: string, version: string | undefined): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  symlinkSync(realpathSync('/usr/bin/dirname'), join(dir, 'dirname'));
  if (version !== undefined) {
    const node = join(dir, 'node');
    writeFileSync(node, `#!/bin/sh\nif [ "$1" = --version ]; then printf '%s\\n' '${version}'; exit 0; fi\nprintf '%s\\n' "$@"\nprintf 'cache=%s\\n' "\${NODE_COMPILE_CACHE-unset}" >&2\nexit 42\n`);
    chmodSync(node, 0o755);
  }
  return dir;
}

function run(shell: readonly string[], wrapper: string, path: string) {
  const result = spawnSync(shell[0]!, [...shell.slice(1), wrapper, 'attach', 'a b'], { env: { PATH: path }, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const shells: readonly (readonly string[])[] = [['/bin/sh'], ['/usr/bin/busybox', 'sh'], ['/bin/bash', '--posix']];

describe('installed wrappers and the node they find', () => {
  it('installed every wrapper', () => {
    for (const [wrapper] of wrappers) expect(existsSync(wrapper), wrapper).toBe(true);
  });

  const refused: readonly (readonly [string, string | undefined, string])[] = [
    ['no node on PATH', undefined, 'found none'],
    ['Node 18.18.2, one minor release short', 'v18.18.2', 'found v18.18.2'],
    ['Node 16', 'v16.20.2', 'found v16.20.2'],
    ['Node 9.99.0 (compared as numbers, not as text)', 'v9.99.0', 'found v9.99.0'],
    ['a --version of two lines', 'v20.1.0\nsecond line', 'found an unreadable version'],
    ['a --version without its patch number', 'v20.1', 'found an unreadable version'],
    ['a --version too long to compare, refused rather than misread', `v${'9'.repeat(30)}.0.0`, `found v${'9'.repeat(30)}.0.0`],
  ];
  for (const [name, version, found] of refused) {
    it(`refuses with exit 127 and one line: ${name}`, () => {
      const path = fakePath(`refused-${refused.findIndex((r) => r[0] === name)}`, version);
      for (const [wrapper] of wrappers) {
        for (const shell of wrapper.endsWith('qvm-block-split') ? shells : [shells[0]!]) {
          const result = run(shell, wrapper, path);
          expect(result.status, `${shell.join(' ')} ${wrapper}`).toBe(127);
          expect(result.stdout).toBe('');
          const lines = result.stderr.split('\n');
          expect(lines).toHaveLength(2);
          expect(lines[1]).toBe('');
          const program = wrapper.slice(wrapper.lastIndexOf('/') + 1);
          expect(lines[0]).toBe(`${program}: error: needs Node.js >= 18.19 as 'node' on PATH, ${found} (README, "Installing in Qubes OS")`);
        }
      }
    });
  }

  // Node >= 22 gets the installed compile cache (packaging/wrapper.sh); older Node would ignore it and is not given it.
  const accepted = ['v18.19.0', 'v18.20.4', 'v20.18.1', 'v22.11.0', 'v100.0.0'];
  const cacheFor = (version: string) => (Number(version.slice(1).split('.')[0]) >= 22 ? join(realpathSync(root), 'usr/lib/split-dm-crypt/compile-cache') : 'unset');
  for (const version of accepted) {
    it(`runs the installed bundle with the arguments as given: Node ${version}`, () => {
      const path = fakePath(`accepted-${version}`, version);
      for (const [wrapper, bundle] of wrappers) {
        for (const shell of wrapper.endsWith('qvm-block-split') ? shells : [shells[0]!]) {
          const result = run(shell, wrapper, path);
          // The fake node's own exit code comes back: the wrapper exec'd it with the bundle and the arguments untouched.
          expect(result.status, `${shell.join(' ')} ${wrapper}`).toBe(42);
          const cache = /^cache=(.*)\n$/.exec(result.stderr)?.[1];
          expect(cache === 'unset' ? cache : realpathSync(cache!), result.stderr).toBe(cacheFor(version));
          const [script, ...args] = result.stdout.trimEnd().split('\n');
          expect(realpathSync(script!)).toBe(join(realpathSync(root), 'usr/lib/split-dm-crypt', bundle));
          expect(args).toEqual(['attach', 'a b']);
        }
      }
    });
  }
});
