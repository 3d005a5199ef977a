// Types for hash-wasm's Argon2-only build (dist/argon2.umd.min.js, 30 KiB): the package's own index bundles every algorithm's
// WebAssembly (260 KiB), which would load on every start of the header services.
declare module 'hash-wasm/dist/argon2.umd.min.js' {
  import type { argon2i, argon2id } from 'hash-wasm';

  const argon2Only: { readonly argon2i: typeof argon2i; readonly argon2id: typeof argon2id };
  export default argon2Only;
}
