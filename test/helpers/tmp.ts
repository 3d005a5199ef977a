// Temporary directories for tests, removed after the test file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** A fresh directory removed when the calling test file ends. */
export function useTmpDir(prefix = 'split-dm-crypt-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A temporary directory for one test file, with fresh image paths (v0.img, v1.img, ...) and key files written on demand. */
export function useScratchFiles(): { readonly dir: string; image(): string; keyFile(name: string, content: string | Buffer): string } {
  const dir = useTmpDir();
  let counter = 0;
  return {
    dir,
    image: () => join(dir, `v${counter++}.img`),
    keyFile: (name, content) => {
      const path = join(dir, `${name}.key`);
      writeFileSync(path, content);
      return path;
    },
  };
}
