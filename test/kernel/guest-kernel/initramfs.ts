// A busybox initramfs with one /init script, for booting the guest kernel with nothing to load (everything built in).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const BUSYBOX = '/bin/busybox';

/** Builds DIR/initramfs.cpio.gz holding a static busybox and INIT as /init; returns its path. */
export function buildInitramfs(dir: string, init: string): string {
  const root = join(dir, 'initramfs');
  for (const sub of ['bin', 'proc', 'sys', 'dev', 'host', 'tmp']) mkdirSync(join(root, sub), { recursive: true });
  copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
  writeFileSync(join(root, 'init'), init, { mode: 0o755 });
  const archive = join(dir, 'initramfs.cpio.gz');
  const pack = 'cd "$1" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1 > "$2"';
  execFileSync('sh', ['-c', pack, 'sh', root, archive], { stdio: ['ignore', 'ignore', 'inherit'] });
  return archive;
}
