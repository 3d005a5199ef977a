// Bundles every entry point into one self-contained file under dist/ that needs only Node.js >= 18.19.
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';

/** Entry points: dist name -> source. Services are named exactly like the qrexec service they implement. */
export const ENTRY_POINTS = {
  'split-dm-crypt-luks': 'vm/split-dm-crypt-luks/main.ts',
};

const banner = [
  '#!/usr/bin/env node',
  // Bundled CommonJS dependencies call require(); give them one in this ES module.
  "import { createRequire as __splitCreateRequire } from 'node:module'; const require = __splitCreateRequire(import.meta.url);",
].join('\n');

for (const [name, source] of Object.entries(ENTRY_POINTS)) {
  const outfile = `dist/${name}.mjs`;
  await build({
    entryPoints: [source],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node18.19',
    banner: { js: banner },
    legalComments: 'none',
    logLevel: 'warning',
  });
  await chmod(outfile, 0o755);
}
