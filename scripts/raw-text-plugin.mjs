// esbuild plugin: `import text from 'some/file?raw'` gives the file's text as a string, as Vite (and so vitest) does.
// Used for hash-wasm's Argon2 build, which the bundles run on a worker thread from its source (shared/luks2/argon2-worker.ts).
import { readFile } from 'node:fs/promises';

export const rawText = {
  name: 'raw-text',
  setup(build) {
    build.onResolve({ filter: /\?raw$/ }, async (args) => {
      const resolved = await build.resolve(args.path.slice(0, -'?raw'.length), { kind: args.kind, resolveDir: args.resolveDir });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      return { path: resolved.path, namespace: 'raw-text' };
    });
    build.onLoad({ filter: /.*/, namespace: 'raw-text' }, async (args) => ({ contents: await readFile(args.path, 'utf8'), loader: 'text' }));
  },
};
