// The one LUKS API for the header VM's services and the split-dm-crypt-luks tool, over both versions: read the version from the
// bytes once (parseVolume), then summarize, map, unlock, format and change key slots without asking which version it is.
// shared/luks1 and shared/luks2 are the formats; shared/luks-common what both use (AF splitter, PBKDF2, sector cipher, hashes).
//
// Header VM, receiving:   headerBytesNeeded(prefix) -> bytes from 0 the parser needs; hasLuksMagic(prefix)
// Parsing:                parseVolume(area, sentFor?) -> LuksVolume { type, header, area }  (ParseError | UnsupportedError)
// Reporting:              summarizeVolume(volume) -> HeaderParsed; keyslotSummaries; volumeWarnings; describe* (the CLI's JSON)
// Mapping:                mappableSegment(volume) -> { cipher, keyBytes, payloadOffset, sectorSize } or UnsupportedError
// Unlocking:              unlockVolume(volume, secret, { onlySlot?, onSlot?, concurrency? }) -> { keyslot, volumeKey }
// New key slots:          chooseKdf(type, KdfRequest, hash, keyBytes) -> KdfChoice (the only place a KDF is picked)
// Formatting:             formatVolume(secret, FormatRequest) -> { volume, kdf }
// Key slots:              addKeyslot / changeKeyslot / removeKeyslot(volume, ...) -> { keyslot, writes }; applyWrites(area, writes)
// Upgrade:                upgradeKeyslot(volume, secret, KdfRequest) -> { area, keyslot, converted } (LUKS1 -> LUKS2, Argon2id)
export { detectLuksType, LUKS_PROBE_BYTES } from '../luks-common/detect.ts';
export type { AreaWrite } from '../luks-common/area-write.ts';
export { dataOffsetBytes, hasLuksMagic, headerBytesNeeded, MAX_VOLUME_AREA_BYTES, parseVolume, type LuksVolume } from './volume.ts';
export { keyslotSummaries, summarizeVolume, volumeWarnings } from './summary.ts';
export { mappableSegment, type MappableSegment } from './mapping.ts';
export { unlockVolume, type UnlockConcurrency, type UnlockOptions, type VolumeUnlocked } from './unlock.ts';
export { chooseKdf, validateForcedIterations, type KdfChoice, type KdfRequest } from './kdf.ts';
export { formatVolume, newVolumeKey, type FormatRequest, type VolumeFormatted } from './format.ts';
export { addKeyslot, applyWrites, changeKeyslot, removeKeyslot, type KeyslotChange } from './keyslots.ts';
export { checkUpgradable, upgradeBytesNeeded, upgradeKeyslot, type VolumeUpgraded } from './upgrade.ts';
export { describeFormatted, describeUnlocked, describeVolume } from './describe.ts';
