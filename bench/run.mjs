// `npm run bench`: Node 20 cannot run TypeScript, so bench/main.ts is bundled with esbuild (as scripts/build.mjs bundles the
// entry points) into a temporary file and run from the repository root. Builds dist/ first when it is missing.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rawText } from '../scripts/raw-text-plugin.mjs';

process.chdir(join(dirname(fileURLToPath(import.meta.url)), '..'));
if (!existsSync('dist/qvm-block-split.mjs') || !existsSync('dist/split-dm-crypt-luks.mjs')) {
  spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
}
const dir = mkdtempSync(join(tmpdir(), 'split-dm-crypt-bench-build-'));
const outfile = join(dir, 'bench.mjs');
try {
  await build({
    entryPoints: ['bench/main.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: { js: "import { createRequire as __benchCreateRequire } from 'node:module'; const require = __benchCreateRequire(import.meta.url);" },
    logLevel: 'warning',
    plugins: [rawText],
  });
  const result = spawnSync(process.execPath, [outfile, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exitCode = result.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
