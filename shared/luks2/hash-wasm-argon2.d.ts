// hash-wasm's Argon2-only build (dist/argon2.umd.min.js, 30 KiB) as source text, for the worker thread of argon2-worker.ts.
// Why that file: the package's own index bundles every algorithm's WebAssembly (260 KiB). `?raw` is Vite's suffix for a file's
// text (vitest); scripts/raw-text-plugin.mjs gives esbuild the same meaning.
declare module 'hash-wasm/dist/argon2.umd.min.js?raw' {
  const source: string;
  export default source;
}
