// The release version, from package.json: put in by the bundler (scripts/build.mjs defines SPLIT_DM_CRYPT_VERSION); sources run
// unbundled (tests) say so instead of guessing.
declare const SPLIT_DM_CRYPT_VERSION: string | undefined;

export const VERSION: string = typeof SPLIT_DM_CRYPT_VERSION === 'string' ? SPLIT_DM_CRYPT_VERSION : 'unbundled';
