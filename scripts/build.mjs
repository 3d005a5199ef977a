// Bundles every entry point into one self-contained file under dist/ that needs only Node.js >= 18.19:
// the LUKS tool, each qrexec service in vm/services/ (dist/vm/<service>.mjs, named exactly like the service), and dom0's
// qvm-block-split. The Makefile's install targets derive the service list from the same folder.
import { build } from 'esbuild';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, readFile } from 'node:fs/promises';
import { rawText } from './raw-text-plugin.mjs';

const SERVICE_DIR = 'vm/services';

/** `vm/services/splitdmcrypt.DeviceOpen.ts` -> `vm/splitdmcrypt.DeviceOpen`. */
function serviceEntryPoints() {
  if (!existsSync(SERVICE_DIR)) return {};
  const names = readdirSync(SERVICE_DIR).filter((file) => /^[A-Za-z0-9_.-]+\.ts$/.test(file) && !file.endsWith('.test.ts'));
  return Object.fromEntries(names.sort().map((file) => [`vm/${file.slice(0, -3)}`, `${SERVICE_DIR}/${file}`]));
}

/** Entry points: dist name (without .mjs) -> source. */
export const ENTRY_POINTS = {
  'split-dm-crypt-luks': 'vm/split-dm-crypt-luks/main.ts',
  ...serviceEntryPoints(),
  // dom0's CLI joins once its entry point exists.
  ...(existsSync('dom0/main.ts') ? { 'qvm-block-split': 'dom0/main.ts' } : {}),
  // The Qubes simulator used by the tests and the demo (never installed).
  'qubes-sim': 'test/sim/main.ts',
};

/**
 * msgpackr tries to load msgpackr-extract, a native (C++) string decoder, at start-up. Bundled, that drags in node-gyp-build's
 * search for prebuilt binaries (file-system probes on every start), and where one is found, untrusted frames would be decoded
 * by native code. Every bundle gets a stub that throws instead: msgpackr catches it and decodes in JavaScript, everywhere.
 */
const noNativeMsgpack = {
  name: 'no-native-msgpack',
  setup(build) {
    build.onResolve({ filter: /^msgpackr-extract$/ }, () => ({ path: 'msgpackr-extract', namespace: 'no-native-msgpack' }));
    build.onLoad({ filter: /.*/, namespace: 'no-native-msgpack' }, () => ({
      contents: "throw new Error('msgpackr-extract is left out of the bundle: frames are decoded in JavaScript');",
      loader: 'js',
    }));
  },
};

/** --version of both tools: the version package.json states. */
const packageVersion = JSON.parse(await readFile('package.json', 'utf8')).version;

const banner = [
  '#!/usr/bin/env node',
  // Bundled CommonJS dependencies call require(); give them one in this ES module.
  "import { createRequire as __splitCreateRequire } from 'node:module'; const require = __splitCreateRequire(import.meta.url);",
].join('\n');

await Promise.all(
  Object.entries(ENTRY_POINTS).map(async ([name, source]) => {
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
      plugins: [noNativeMsgpack, rawText],
      define: { SPLIT_DM_CRYPT_VERSION: JSON.stringify(packageVersion) },
    });
    await chmod(outfile, 0o755);
  }),
);
