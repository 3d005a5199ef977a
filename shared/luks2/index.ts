// The LUKS2 engine's public API, for shared/luks (the facade the CLI and the services use) and the tests. Import from here, not
// from the files behind it.
//
// Header VM, receiving:         luks2BytesNeeded(prefix) -> bytes from 0 the parser needs (<= prefix.length: enough; <= 16 MiB)
// Header VM, unlock:            parseLuks2Header(area) -> Luks2Header   (throws ParseError | UnsupportedError; the rules are
//                                                                        cryptsetup's, docs/LUKS2-RULES.md; header.copyUsed and
//                                                                        header.warnings say which copy is used and why)
//                               unlockLuks2(header, area, secret, { onlySlot?, onSlot?, concurrency? }) -> Luks2Unlocked { keyslot, volumeKey, mapping }
//                               mapping: Luks2Mapping { cipher, keyBytes, mappable, offsetBytes, offsetSectors, sectorSize, ivTweak, size }
//                               (only `mappable` volumes: aes-xts-plain64 with a 32- or 64-byte key; throws WrongPassphraseError)
// Header VM, format:            formatLuks2(secret, FormatLuks2Options) -> { header, area }  (area = dataOffset bytes, 16 MiB default)
//                               FormatLuks2Options.kdf: Luks2KdfChoice, e.g. { type: 'argon2id', memoryKiB: DEFAULT_ARGON2_MEMORY_KIB,
//                               cpus: DEFAULT_ARGON2_PARALLELISM, time: await argon2TimeFor('argon2id', memory, cpus, iterTimeMs) };
//                               digestIterations from luks1's benchmarkPbkdf2 + digestIterationsFor (as vm/split-dm-crypt-luks does)
// Key management:               addKeyLuks2 / changeKeyLuks2 / removeKeyLuks2 -> Luks2KeyslotChange { header, keyslot, writes }
export * from './constants.ts';
export { parseLuks2Header, serializeLuks2Headers, type Luks2Header } from './header.ts';
export { luks2BytesNeeded } from './bytes-needed.ts';
export type { Luks2BinaryHeader, Luks2Copy } from './binary-header.ts';
export type { Luks2Metadata, Luks2Keyslot, Luks2Kdf, Luks2Digest, Luks2Segment, Luks2Token, Luks2Config } from './metadata.ts';
export { unlockLuks2, luks2Mapping, type Luks2Unlocked, type Luks2Mapping, type UnlockConcurrency, type UnlockLuks2Options } from './unlock.ts';
export { formatLuks2, type FormatLuks2Options, type Luks2Formatted } from './format.ts';
export { addKeyLuks2, changeKeyLuks2, removeKeyLuks2, type Luks2KeyslotChange, type AreaWrite } from './manage.ts';
export { argon2TimeFor, deriveKey } from './kdf.ts';
export type { Luks2KdfChoice } from './keyslot.ts';

/** Argon2 memory our format uses by default: 256 MiB, so a 1 GiB DisposableVM unlocks it comfortably. */
export const DEFAULT_ARGON2_MEMORY_KIB = 256 * 1024;
/** Argon2 lanes our format uses by default (cryptsetup's default maximum). */
export const DEFAULT_ARGON2_PARALLELISM = 4;
