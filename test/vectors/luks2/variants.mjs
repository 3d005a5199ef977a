// The LUKS2 vectors: one row per variant of a cryptsetup-made header, with the rule of docs/LUKS2-RULES.md it exercises, what our
// parser must give (valid | invalid | unsupported) and what cryptsetup's luksDump does (accepts | refuses), and why.
const KIB = 1024;
const MIB = 1024 * KIB;
const S = 16 * KIB; // hdr_size of the small bases

/** One vector. `extra`: copyUsed (the copy a valid header comes from), cryptsetupBefore ({ version: verdict } for older releases). */
const vec = (file, rule, expect, cryptsetup, comment, image, extra = {}) => ({ file, rule, expect, cryptsetup, comment, ...extra, image });

export function variants(bases) {
  const base = () => bases.base.clone();
  const edit = (change) => base().mutate(change);
  const text = (from, to) => base().replaceText(from, to);
  const slot = (j) => j.keyslots['0'];
  const secondSlot = (j, offset = 32 * KIB + 128 * KIB) => ({ ...slot(j), area: { ...slot(j).area, offset: String(offset) } });
  const argon = (j, params) => ({ type: 'argon2id', time: 4, memory: 1024, cpus: 1, salt: slot(j).kdf.salt, ...params });
  const nested = (depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const withToken = (json) => text('"tokens":{}', `"tokens":{"0":{"type":"x","keyslots":[],"v":${json}}}`);
  const setU64 = (image, at, value) => (image.bytes.writeBigUInt64BE(BigInt(value), at), image);
  const seg = (extra) => (j) => Object.assign(j.segments['0'], extra);
  const v = [];

  // Headers as cryptsetup makes them.
  v.push(vec('valid-pbkdf2', 'S3', 'valid', 'accepts', 'luksFormat with PBKDF2: both copies equal', base(), { copyUsed: 'primary' }));
  v.push(vec('valid-argon2id-64m-40-passes', 'O11', 'valid', 'accepts', 'luksFormat --pbkdf-memory 65536 --pbkdf-force-iterations 40: work 64 MiB x 40 is under the cap', bases.argon40.clone()));
  v.push(vec('valid-two-slots', 'K7', 'valid', 'accepts', 'luksAddKey with argon2i: one digest names both slots', bases.twoSlots.clone()));
  v.push(vec('valid-token', 'T1', 'valid', 'accepts', 'cryptsetup token import: a token of an unknown type with members of its own, carried along', bases.token.clone()));
  v.push(vec('valid-label', 'B8', 'valid', 'accepts', 'cryptsetup config --label with UTF-8 and --subsystem', bases.label.clone()));
  v.push(vec('unsupported-reencryption-in-progress', 'O3', 'unsupported', 'accepts', 'cryptsetup reencrypt --init-only: requirement online-reencrypt-v2, a reencrypt key slot, backup segments', bases.reencrypt.clone()));
  v.push(vec('valid-slot-beyond-16mib', 'O17', 'valid', 'accepts', 'a 128 MiB key-slot area whose slot lies past the 16 MiB we hold: parsed, its slot cannot be tried', bases.bigKeyslots.clone().mutate((j) => (slot(j).area.offset = String(32 * MIB)))));

  // L1: the LUKS version comes from the primary's magic and version.
  v.push(vec('invalid-primary-version-1', 'L1', 'invalid', 'refuses', 'version 1 in the primary: read as LUKS1 (and not a LUKS1 header), never as LUKS2', (() => { const i = base(); i.bytes.writeUInt16BE(1, 6); return i.reseal(0); })()));
  v.push(vec('unsupported-primary-version-3', 'L1', 'unsupported', 'refuses', 'version 3 in the primary: an unsupported LUKS version, the secondary is not looked at', (() => { const i = base(); i.bytes.writeUInt16BE(3, 6); return i.reseal(0); })()));

  // B1..B9: the binary header of each copy.
  v.push(vec('valid-primary-magic-destroyed', 'B1', 'valid', 'accepts', 'no primary magic: the secondary is used', base().zero(0, 6), { copyUsed: 'secondary' }));
  v.push(vec('valid-secondary-with-primary-magic', 'B1', 'valid', 'accepts', "the secondary carries the primary's magic: unusable, the primary is used", (() => { const i = base(); i.bytes.write('LUKS\xba\xbe', S, 'latin1'); return i.reseal(S); })(), { copyUsed: 'primary' }));
  v.push(vec('valid-secondary-version-3', 'B2', 'valid', 'accepts', 'version 3 in the secondary: unusable, the primary is used', (() => { const i = base(); i.bytes.writeUInt16BE(3, S + 6); return i.reseal(S); })(), { copyUsed: 'primary' }));
  v.push(vec('valid-primary-hdr-offset-wrong', 'B3', 'valid', 'accepts', 'primary hdr_offset 512: unusable, the secondary is found by the scan', setU64(base(), 256, 512).reseal(0), { copyUsed: 'secondary' }));
  v.push(vec('valid-primary-hdr-size-8mib', 'B4', 'valid', 'accepts', 'primary hdr_size 8 MiB, outside 16 KiB..4 MiB: unusable, the secondary is used', setU64(base(), 8, 8 * MIB), { copyUsed: 'secondary' }));
  v.push(vec('invalid-hdr-size-12kib', 'B4', 'invalid', 'refuses', 'hdr_size 12 KiB in both copies (re-sealed over 12 KiB)', (() => { const i = setU64(setU64(base(), 8, 12 * KIB), S + 8, 12 * KIB); return i.reseal(0, 12 * KIB).reseal(S, 12 * KIB); })()));
  v.push(vec('valid-secondary-hdr-size-mismatch', 'B5', 'valid', 'accepts', 'the secondary at 16 KiB says hdr_size 32 KiB: unusable, the primary is used', (() => { const i = setU64(base(), S + 8, 32 * KIB); return i.reseal(S, 32 * KIB); })(), { copyUsed: 'primary' }));
  const withAlgorithm = (name) => { const i = base(); for (const at of [0, S]) { i.bytes.fill(0, at + 72, at + 104); i.bytes.write(name, at + 72, 'latin1'); i.reseal(at); } return i; };
  v.push(vec('valid-checksum-sha512', 'B6', 'valid', 'accepts', 'both copies checksummed with sha512', withAlgorithm('sha512')));
  v.push(vec('valid-checksum-sha3-256', 'B6', 'valid', 'accepts', 'both copies checksummed with sha3-256', withAlgorithm('sha3-256')));
  v.push(vec('unsupported-checksum-md5', 'B6', 'unsupported', 'accepts', "md5: cryptsetup's backend computes it, we do not take it", withAlgorithm('md5')));
  v.push(vec('unsupported-checksum-unknown', 'B6', 'unsupported', 'refuses', 'an algorithm no one knows: neither copy can be checked', withAlgorithm('nohash')));
  v.push(vec('valid-primary-checksum-wrong', 'B7', 'valid', 'accepts', 'one bit of the primary JSON area flipped: the secondary is used', (() => { const i = base(); i.bytes[5000] ^= 1; return i; })(), { copyUsed: 'secondary' }));
  v.push(vec('invalid-both-checksums-wrong', 'B7', 'invalid', 'refuses', 'one bit flipped in each JSON area', (() => { const i = base(); i.bytes[5000] ^= 1; i.bytes[S + 5000] ^= 1; return i; })()));
  v.push(vec('valid-text-fields-and-padding', 'B8', 'valid', 'accepts', 'label with bytes after its NUL, a 48-byte subsystem without NUL, non-zero padding: ignored, as cryptsetup ignores them', (() => {
    const i = base();
    for (const at of [0, S]) {
      i.bytes.write('label\0junk', at + 24, 'latin1');
      i.bytes.write('s'.repeat(48), at + 208, 'latin1');
      i.bytes[at + 300] = 7;
      i.bytes[at + 1000] = 9;
      i.reseal(at);
    }
    return i;
  })()));
  v.push(vec('valid-label-control-character', 'B8', 'valid', 'accepts', 'a label with a control character and invalid UTF-8: shown with replacement characters, a warning', (() => { const i = base(); for (const at of [0, S]) { i.bytes.write('a\x01b\xff', at + 24, 'latin1'); i.reseal(at); } return i; })()));
  v.push(vec('unsupported-uuid-not-a-uuid', 'B9', 'unsupported', 'accepts', 'uuid "not a uuid": cryptsetup does not check it; dom0 and device names need one', (() => { const i = base(); for (const at of [0, S]) { i.bytes.fill(0, at + 168, at + 208); i.bytes.write('not a uuid', at + 168, 'latin1'); i.reseal(at); } return i; })()));

  // S1..S6: which copy is read where, and which is used.
  v.push(vec('valid-primary-json-invalid', 'S1', 'valid', 'accepts', "primary checksum right, JSON invalid (no segments): the secondary at the primary's hdr_size is used", base().mutate((j) => (j.segments = {}), [0]), { copyUsed: 'secondary' }));
  v.push(vec('invalid-primary-hdr-size-20000', 'S1', 'invalid', 'refuses', 'primary hdr_size 20000 with a right checksum: the secondary is looked for at 20000 only, not found; its JSON size does not match', setU64(base(), 8, 20000).reseal(0, 20000)));
  for (const [size, image] of Object.entries(bases.bySize)) {
    const kib = Number(size) / KIB;
    v.push(vec(`valid-primary-destroyed-${kib}k`, 'S2', 'valid', 'accepts', `hdr_size ${kib} KiB, the primary zeroed: the secondary is found at ${kib} KiB`, image.clone().zero(0, Number(size)), { copyUsed: 'secondary' }));
  }
  const planted = () => { const i = base().zero(0, S); bases.bySize[32 * KIB].bytes.copy(i.bytes, 32 * KIB, 32 * KIB, 64 * KIB); return i; };
  v.push(vec('valid-scan-skips-bad-checksum', 'S2', 'valid', 'accepts', 'primary zeroed, the secondary at 16 KiB has a wrong checksum: the scan goes on to a valid one at 32 KiB', (() => { const i = planted(); i.bytes[S + 5000] ^= 1; return i; })(), { copyUsed: 'secondary' }));
  v.push(vec('invalid-scan-stops-at-first-checksummed', 'S2', 'invalid', 'refuses', 'primary zeroed, the secondary at 16 KiB has a right checksum but invalid JSON: the scan stops there, the valid copy at 32 KiB is not used', planted().mutate((j) => (j.segments = {}), [S])));
  v.push(vec('valid-secondary-newer', 'S3', 'valid', 'accepts', 'the secondary has seqid 7, the primary 1: the secondary (priority 2) is used', (() => { const i = base().mutate((j) => (slot(j).priority = 2), [S]); setU64(i, S + 16, 7); return i.reseal(S); })(), { copyUsed: 'secondary' }));
  v.push(vec('valid-same-seqid-different-json', 'S3', 'valid', 'accepts', 'equal seqid, different JSON: the primary is used, with a warning', base().mutate((j) => (slot(j).priority = 0), [S]), { copyUsed: 'primary' }));
  v.push(vec('unsupported-newer-primary-refused', 'S3', 'unsupported', 'accepts', 'the primary is newer and uses sector size 1536; we refuse it rather than fall back to the older secondary', (() => { const i = base().mutate(seg({ sector_size: 1536, size: '1536000' }), [0]); setU64(i, 16, 9); return i.reseal(0); })()));
  v.push(vec('valid-secondary-destroyed', 'S4', 'valid', 'accepts', 'the secondary zeroed: the primary is used, with a warning', base().zero(S, 2 * S), { copyUsed: 'primary' }));
  v.push(vec('invalid-both-destroyed', 'S5', 'invalid', 'refuses', 'both copies zeroed', base().zero(0, 2 * S)));
  v.push(vec('invalid-device-too-small', 'S6', 'invalid', 'refuses', 'the volume ends inside its key-slot area', (() => { const i = base(); return Object.assign(i, { bytes: i.bytes.subarray(0, 100 * KIB), deviceBytes: 100 * KIB }); })()));

  // A1..A5: the JSON area.
  v.push(vec('invalid-json-leading-space', 'A1', 'invalid', 'refuses', "the JSON area starts with a space, not '{'", text('{"keyslots"', ' {"keyslots"')));
  v.push(vec('valid-json-trailing-space', 'A2', 'valid', 'accepts', 'white space after the object, then NULs: json-c consumes it', (() => { const i = base(); return i.setText(`${i.text()}  \n\t`); })()));
  v.push(vec('invalid-json-text-after-object', 'A2', 'invalid', 'refuses', 'a character after the object', (() => { const i = base(); return i.setText(`${i.text()} x`); })()));
  v.push(vec('invalid-json-byte-after-nul', 'A2', 'invalid', 'refuses', 'a non-NUL byte after the NUL that ends the JSON', (() => { const i = base(); return i.setText(`${i.text()}\0\0x`); })()));
  v.push(vec('invalid-json-no-nul', 'A2', 'invalid', 'refuses', 'the JSON (padded with spaces) fills the whole area: no terminating NUL', (() => { const i = base(); return i.setText(i.text().padEnd(S - 4096, ' ')); })()));
  v.push(vec('valid-json-depth-32', 'A3', 'valid', 'accepts', "nesting 32 levels deep, json-c's limit", withToken(nested(29))));
  v.push(vec('invalid-json-depth-33', 'A3', 'invalid', 'refuses', 'nesting 33 levels deep', withToken(nested(30))));
  v.push(vec('invalid-json-not-json', 'A3', 'invalid', 'refuses', 'a missing closing brace', (() => { const i = base(); return i.setText(i.text().slice(0, -1)); })()));
  v.push(vec('invalid-int-written-as-double', 'A4', 'invalid', 'refuses', 'kdf iterations written 1000.0: a json-c double where an int is required', text('"iterations":1000,', '"iterations":1000.0,')));
  v.push(vec('invalid-int-with-exponent', 'A4', 'invalid', 'refuses', 'key_size written 3.2e1', text('"key_size":32,', '"key_size":3.2e1,')));
  v.push(vec('invalid-json-c-comment', 'O16', 'invalid', 'accepts', 'a /* comment */: json-c reads it, RFC 8259 does not', text('{"keyslots"', '{/* c */"keyslots"')));
  v.push(vec('invalid-json-c-single-quotes', 'O16', 'invalid', 'accepts', "a 'single-quoted' key", text('"tokens":{}', "'tokens':{}")));
  v.push(vec('invalid-json-c-leading-zero', 'O16', 'invalid', 'accepts', 'a number with a leading zero in a token', withToken('007')));
  v.push(vec('invalid-json-c-nul-escape', 'O16', 'invalid', 'accepts', 'a \\u0000 inside a string: json-c would cut the string there', withToken('"a\\u0000b"')));
  v.push(vec('invalid-json-c-raw-control', 'O16', 'invalid', 'accepts', 'a raw control character inside a string', withToken('"a\x01b"')));
  v.push(vec('invalid-json-c-bad-utf8', 'O16', 'invalid', 'accepts', 'a string that is not UTF-8', withToken('"\xff\xfe"')));

  // R1: requirements.
  v.push(vec('invalid-requirements-array', 'R1', 'invalid', 'refuses', 'config.requirements is an array', edit((j) => (j.config.requirements = []))));
  v.push(vec('invalid-mandatory-not-strings', 'R1', 'invalid', 'refuses', 'a number among the mandatory requirements', edit((j) => (j.config.requirements = { mandatory: [1] }))));
  v.push(vec('invalid-two-online-reencrypt', 'R1', 'invalid', 'refuses', 'online-reencrypt-v2 and online-reencrypt-v3 together', edit((j) => (j.config.requirements = { mandatory: ['online-reencrypt-v2', 'online-reencrypt-v3'] }))));
  v.push(vec('unsupported-unknown-requirement', 'O3', 'unsupported', 'accepts', 'a mandatory requirement cryptsetup does not know: it loads the header, refuses to open it', edit((j) => (j.config.requirements = { mandatory: ['x-future-feature'] }))));
  v.push(vec('valid-empty-requirements', 'R1', 'valid', 'accepts', 'requirements {} with no mandatory list', edit((j) => (j.config.requirements = {}))));

  // T1, D1: tokens and digests.
  v.push(vec('invalid-token-missing-slot', 'T1', 'invalid', 'refuses', 'a token naming key slot 5, which does not exist', edit((j) => (j.tokens['0'] = { type: 'x', keyslots: ['5'] }))));
  v.push(vec('invalid-token-without-type', 'T1', 'invalid', 'refuses', 'a token without a type', edit((j) => (j.tokens['0'] = { keyslots: [] }))));
  v.push(vec('invalid-token-id-not-number', 'T1', 'invalid', 'refuses', 'a token id "a"', edit((j) => (j.tokens.a = { type: 'x', keyslots: [] }))));
  v.push(vec('invalid-digest-missing-segment', 'D1', 'invalid', 'refuses', 'a digest naming segment 3, which does not exist', edit((j) => j.digests['0'].segments.push('3'))));
  v.push(vec('invalid-digest-keyslots-not-array', 'D1', 'invalid', 'refuses', 'digest keyslots "0" instead of ["0"]', edit((j) => (j.digests['0'].keyslots = '0'))));
  v.push(vec('invalid-digest-without-type', 'D1', 'invalid', 'refuses', 'a digest without a type', edit((j) => delete j.digests['0'].type)));

  // G1..G7: segments.
  v.push(vec('invalid-no-segments', 'G1', 'invalid', 'refuses', 'an empty segments object (and a digest naming segment 0)', edit((j) => ((j.segments = {}), (j.digests['0'].segments = [])))));
  v.push(vec('invalid-segment-offset-unaligned', 'G1', 'invalid', 'refuses', 'data offset 557057, not a multiple of 512', edit(seg({ offset: '557057' }))));
  v.push(vec('invalid-segment-size-zero', 'G1', 'invalid', 'refuses', 'segment size "0"', edit(seg({ size: '0' }))));
  v.push(vec('invalid-segment-offset-not-number', 'G1', 'invalid', 'refuses', 'segment offset "0x88000"', edit(seg({ offset: '0x88000' }))));
  v.push(vec('invalid-segment-size-over-2-64', 'G1', 'invalid', 'refuses', 'segment size 99999999999999999488, above 2^64 - 1', edit(seg({ size: '99999999999999999488' }))));
  v.push(vec('invalid-segment-flags-not-strings', 'G1', 'invalid', 'refuses', 'segment flags [1]', edit(seg({ flags: [1] }))));
  v.push(vec('invalid-sector-size-1000', 'G2', 'invalid', 'refuses', 'sector size 1000, not a multiple of 512', edit(seg({ sector_size: 1000 }))));
  v.push(vec('unsupported-sector-size-1536', 'O6', 'unsupported', 'accepts', 'sector size 1536: cryptsetup loads it, dm-crypt cannot use it', edit(seg({ sector_size: 1536 }))));
  v.push(vec('invalid-iv-tweak-not-number', 'G2', 'invalid', 'refuses', 'iv_tweak "x"', edit(seg({ iv_tweak: 'x' }))));
  v.push(vec('invalid-integrity-incomplete', 'G2', 'invalid', 'refuses', 'integrity without journal_encryption and journal_integrity', edit(seg({ integrity: { type: 'hmac(sha256)' } }))));
  v.push(vec('unsupported-integrity', 'O4', 'unsupported', 'accepts', 'authenticated encryption (integrity)', edit(seg({ integrity: { type: 'hmac(sha256)', journal_encryption: 'none', journal_integrity: 'none' } }))));
  v.push(vec('invalid-size-not-sector-multiple', 'G2', 'invalid', 'refuses', 'segment size 1536 with 1024-byte sectors', edit(seg({ size: '1536', sector_size: 1024 }))));
  v.push(vec('invalid-crypt-segment-without-digest', 'G3', 'invalid', 'refuses', 'the digest names no segment', edit((j) => (j.digests['0'].segments = []))));
  const opal = { type: 'hw-opal', offset: '557056', size: '4194304', opal_segment_number: 1, opal_key_size: 32, opal_segment_size: '4194304' };
  v.push(vec('unsupported-hw-opal', 'O4', 'unsupported', 'accepts', 'an OPAL hardware-encryption segment with all its members', edit((j) => (j.segments['0'] = opal))));
  v.push(vec('invalid-hw-opal-incomplete', 'G4', 'invalid', 'refuses', 'an OPAL segment without opal_segment_number (checked since cryptsetup 2.7)', edit((j) => (j.segments['0'] = { ...opal, opal_segment_number: undefined })), { cryptsetupBefore: { '2.7.0': 'accepts' } }));
  v.push(vec('invalid-only-backup-segment', 'G5', 'invalid', 'refuses', 'segment 0 is a backup segment: no regular segment', edit(seg({ flags: ['backup-final'] }))));
  v.push(vec('invalid-segment-gap', 'G5', 'invalid', 'refuses', 'segments 0 and 2, no 1', edit((j) => ((j.segments['2'] = { ...j.segments['0'], offset: '2097152' }), (j.segments['0'].size = '1048576'), j.digests['0'].segments.push('2')))));
  v.push(vec('invalid-two-dynamic-segments', 'G6', 'invalid', 'refuses', 'two dynamic segments', edit((j) => ((j.segments['1'] = { ...j.segments['0'], offset: '2097152' }), j.digests['0'].segments.push('1')))));
  v.push(vec('invalid-overlapping-segments', 'G6', 'invalid', 'refuses', 'segment 1 starts inside segment 0', edit((j) => ((j.segments['0'].size = '1048576'), (j.segments['1'] = { ...j.segments['0'], offset: '1048576', size: 'dynamic' }), j.digests['0'].segments.push('1')))));
  v.push(vec('unsupported-two-segments', 'O4', 'unsupported', 'accepts', 'two valid crypt segments, one after the other', edit((j) => ((j.segments['0'].size = '1048576'), (j.segments['1'] = { ...j.segments['0'], offset: '1605632', size: 'dynamic' }), j.digests['0'].segments.push('1')))));
  v.push(vec('invalid-online-reencrypt-without-backups', 'G7', 'invalid', 'refuses', "requirement online-reencrypt-v2 with no backup segments and no reencrypt key slot", edit((j) => (j.config.requirements = { mandatory: ['online-reencrypt-v2'] }))));
  v.push(vec('unsupported-segment-type-linear', 'U2', 'unsupported', 'accepts', 'a segment of type linear', edit((j) => (j.segments['0'] = { type: 'linear', offset: '557056', size: 'dynamic' }))));
  v.push(vec('unsupported-segment-type-unknown', 'U2', 'unsupported', 'accepts', 'a segment of type "verity" keeping the crypt members', edit(seg({ type: 'verity' }))));

  // K1..K8: key slots.
  v.push(vec('invalid-key-size-string', 'K1', 'invalid', 'refuses', 'key_size "32"', edit((j) => (slot(j).key_size = '32'))));
  v.push(vec('invalid-key-size-over-32-bits', 'K1', 'invalid', 'refuses', 'key_size 4294967296', edit((j) => (slot(j).key_size = 4294967296))));
  v.push(vec('invalid-keyslot-id-not-number', 'K1', 'invalid', 'refuses', 'a key slot id "a"', edit((j) => ((j.keyslots.a = slot(j)), delete j.keyslots['0'], (j.digests['0'].keyslots = ['a'])))));
  v.push(vec('invalid-keyslot-without-type', 'K1', 'invalid', 'refuses', 'a key slot without a type', edit((j) => delete slot(j).type)));
  v.push(vec('valid-json-size-with-sign', 'C1', 'valid', 'accepts', 'json_size "+12288": read with strtoull, which takes a sign', text('"json_size":"12288"', '"json_size":"+12288"')));
  v.push(vec('valid-keyslots-size-with-space', 'C1', 'valid', 'accepts', 'keyslots_size " 524288": strtoull skips leading white space', text('"keyslots_size":"524288"', '"keyslots_size":" 524288"')));
  v.push(vec('invalid-json-size-trailing-text', 'C1', 'invalid', 'refuses', 'json_size "12288x"', text('"json_size":"12288"', '"json_size":"12288x"')));
  v.push(vec('invalid-json-size-not-a-size', 'C2', 'invalid', 'refuses', 'json_size 16000: 16000 + 4096 is no LUKS2 header size', text('"json_size":"12288"', '"json_size":"16000"')));
  v.push(vec('invalid-keyslots-size-unaligned', 'C3', 'invalid', 'refuses', 'keyslots_size 524289', text('"keyslots_size":"524288"', '"keyslots_size":"524289"')));
  v.push(vec('invalid-keyslots-size-over-128mib', 'C3', 'invalid', 'refuses', 'keyslots_size 128 MiB + 4 KiB (data moved beyond it)', edit((j) => ((j.config.keyslots_size = String(128 * MIB + 4096)), (j.segments['0'].offset = String(256 * MIB))))));
  v.push(vec('invalid-keyslots-reach-data', 'C4', 'invalid', 'refuses', 'keyslots_size 1 MiB: headers and key slots reach past the data at 557056', text('"keyslots_size":"524288"', '"keyslots_size":"1048576"')));
  v.push(vec('unsupported-detached-header', 'O5', 'unsupported', 'accepts', 'data offset 0: a detached header', edit(seg({ offset: '0' }))));
  v.push(vec('valid-config-flags', 'C5', 'valid', 'accepts', 'config flags ["allow-discards"]', edit((j) => (j.config.flags = ['allow-discards']))));
  v.push(vec('invalid-config-flags-not-array', 'C5', 'invalid', 'refuses', 'config flags "allow-discards"', edit((j) => (j.config.flags = 'allow-discards'))));
  v.push(vec('invalid-area-offset-not-number', 'K2', 'invalid', 'refuses', 'area offset "x"', edit((j) => (slot(j).area.offset = 'x'))));
  v.push(vec('invalid-area-without-type', 'K2', 'invalid', 'refuses', 'an area without a type', edit((j) => delete slot(j).area.type)));
  v.push(vec('invalid-area-inside-headers', 'K3', 'invalid', 'refuses', 'area at 16384, inside the secondary header', edit((j) => (slot(j).area.offset = '16384'))));
  v.push(vec('invalid-area-size-zero', 'K3', 'invalid', 'refuses', 'area size 0', edit((j) => (slot(j).area.size = '0'))));
  v.push(vec('invalid-area-beyond-keyslots', 'K3', 'invalid', 'refuses', 'area at the data offset, past the key-slot area', edit((j) => (slot(j).area.offset = '557056'))));
  v.push(vec('invalid-areas-overlap', 'K3', 'invalid', 'refuses', 'a second slot whose area starts inside the first', edit((j) => ((j.keyslots['1'] = secondSlot(j, 32 * KIB + 4096)), j.digests['0'].keyslots.push('1')))));
  v.push(vec('invalid-json-size-not-hdr-size', 'C6', 'invalid', 'refuses', 'json_size 28672 in a 16 KiB header', text('"json_size":"12288"', '"json_size":"28672"')));
  v.push(vec('invalid-kdf-without-salt', 'K4', 'invalid', 'refuses', 'a PBKDF2 kdf without salt', edit((j) => delete slot(j).kdf.salt)));
  v.push(vec('invalid-kdf-without-type', 'K4', 'invalid', 'refuses', 'a kdf without type', edit((j) => delete slot(j).kdf.type)));
  v.push(vec('invalid-argon2-memory-as-string', 'K4', 'invalid', 'refuses', 'argon2id memory "1024"', edit((j) => (slot(j).kdf = argon(j, { memory: '1024' })))));
  v.push(vec('invalid-keyslot-without-af', 'K4', 'invalid', 'refuses', 'a luks2 key slot without af', edit((j) => delete slot(j).af)));
  v.push(vec('unsupported-kdf-scrypt', 'U2', 'unsupported', 'accepts', 'kdf type scrypt: cryptsetup checks no members of a kdf type it does not know', edit((j) => (slot(j).kdf = { type: 'scrypt', salt: slot(j).kdf.salt }))));
  v.push(vec('valid-pbkdf2-with-argon2-leftovers', 'K5', 'valid', 'accepts', 'a PBKDF2 kdf still carrying time, memory and cpus (older cryptsetup converting a slot): ignored', edit((j) => Object.assign(slot(j).kdf, { time: 4, memory: 1024, cpus: 1 }))));
  v.push(vec('valid-argon2-with-pbkdf2-leftovers', 'K5', 'valid', 'accepts', 'an argon2id kdf still carrying hash and iterations: ignored', edit((j) => (slot(j).kdf = { ...argon(j, {}), hash: 'sha256', iterations: 1000 }))));
  v.push(vec('valid-kdf-unknown-member', 'K5', 'valid', 'accepts', 'a kdf with a member "x": cryptsetup deletes it before validating again', edit((j) => (slot(j).kdf.x = 1))));
  v.push(vec('invalid-af-type-luks2', 'K6', 'invalid', 'refuses', 'af type "luks2"', edit((j) => (slot(j).af.type = 'luks2'))));
  v.push(vec('invalid-area-type-raw2', 'K6', 'invalid', 'refuses', 'area type "raw2"', edit((j) => (slot(j).area.type = 'raw2'))));
  v.push(vec('invalid-stripes-string', 'K6', 'invalid', 'refuses', 'af stripes "4000"', edit((j) => (slot(j).af.stripes = '4000'))));
  v.push(vec('invalid-area-without-encryption', 'K6', 'invalid', 'refuses', 'an area without encryption', edit((j) => delete slot(j).area.encryption)));
  v.push(vec('invalid-keyslot-without-digest', 'K7', 'invalid', 'refuses', 'a second key slot no digest names', edit((j) => (j.keyslots['1'] = secondSlot(j)))));
  v.push(vec('invalid-keyslot-in-two-digests', 'K7', 'invalid', 'refuses', 'key slot 0 named by two digests', edit((j) => (j.digests['1'] = { ...j.digests['0'] }))));
  v.push(vec('invalid-reencrypt-slot-without-requirement', 'K8', 'invalid', 'refuses', "cryptsetup's reencrypt key slot copied into a header without the reencryption requirement", edit((j) => {
    const reencrypt = bases.reencrypt.json().keyslots['2'];
    j.keyslots['1'] = { ...reencrypt, area: { ...reencrypt.area, offset: '294912', size: '229376' } };
  })));

  // U1, U2: what cryptsetup ignores or does not know.
  v.push(vec('valid-config-unknown-key', 'U1', 'valid', 'accepts', 'a key "x" in config', edit((j) => (j.config.x = { any: 'thing' }))));
  v.push(vec('valid-unknown-keys-everywhere', 'U1', 'valid', 'accepts', 'unknown keys at the top level and in a key slot, af, area, segment and digest', edit((j) => {
    j.x = 1;
    slot(j).x = 'a';
    slot(j).af.x = [];
    slot(j).area.x = {};
    j.segments['0'].x = null;
    j.digests['0'].x = true;
  })));
  v.push(vec('unsupported-keyslot-type-unknown', 'U2', 'unsupported', 'accepts', 'a key slot of type "luks3" (a type, a key size and an area are all cryptsetup checks)', edit((j) => (j.keyslots['1'] = { type: 'luks3', key_size: 32, area: { type: 'raw', offset: '163840', size: '131072' } }))));
  v.push(vec('unsupported-digest-type-unknown', 'U2', 'unsupported', 'accepts', 'a second digest of type "argon2" naming nothing', edit((j) => (j.digests['1'] = { type: 'argon2', keyslots: [], segments: [] }))));

  // O1..O18: ours, after cryptsetup's rules.
  v.push(vec('unsupported-keyslot-id-32', 'O1', 'unsupported', 'accepts', 'key slot id 32: cryptsetup loads it but never uses or shows it', edit((j) => ((j.keyslots['32'] = secondSlot(j)), j.digests['0'].keyslots.push('32')))));
  v.push(vec('invalid-keyslot-id-leading-zero', 'K7', 'invalid', 'refuses', 'key slot "01" named by the digest: cryptsetup counts the digests naming "1", its atoi() name, and finds none', edit((j) => ((j.keyslots['01'] = secondSlot(j)), j.digests['0'].keyslots.push('01')))));
  v.push(vec('unsupported-token-id-leading-zero', 'O1', 'unsupported', 'accepts', 'token id "01": cryptsetup loads it, never reaches it by number', edit((j) => (j.tokens['01'] = { type: 'x', keyslots: ['0'] }))));
  v.push(vec('unsupported-1025-tokens', 'O2', 'unsupported', 'accepts', '1025 tokens (64 KiB header): more objects than we let the rules walk', bases.bySize[64 * KIB].clone().mutate((j) => {
    for (let i = 0; i < 1025; i++) j.tokens[String(i)] = { type: 'x', keyslots: [] };
  })));
  v.push(vec('unsupported-segment-size-near-2-64', 'O7', 'unsupported', 'accepts', 'segment size 2^64 - 512: valid, not a safe integer', edit(seg({ size: '18446744073709551104' }))));
  v.push(vec('unsupported-segment-offset-over-2-53', 'O7', 'unsupported', 'accepts', 'data offset 2^53 + 512', edit(seg({ offset: '9007199254741504' }))));
  v.push(vec('unsupported-iv-tweak-over-2-53', 'O7', 'unsupported', 'accepts', 'iv_tweak 2^64 - 1', edit(seg({ iv_tweak: '18446744073709551615' }))));
  v.push(vec('unsupported-cipher-spec-with-space', 'O8', 'unsupported', 'accepts', 'segment encryption "aes xts-plain64": not a name dm-crypt takes', edit(seg({ encryption: 'aes xts-plain64' }))));
  v.push(vec('unsupported-af-hash', 'O9', 'unsupported', 'accepts', 'af hash whirlpool', edit((j) => (slot(j).af.hash = 'whirlpool'))));
  v.push(vec('unsupported-keyslot-cipher', 'O9', 'unsupported', 'accepts', 'key-slot area cipher serpent-xts-plain64', edit((j) => (slot(j).area.encryption = 'serpent-xts-plain64'))));
  v.push(vec('unsupported-volume-key-128-bytes', 'O9', 'unsupported', 'accepts', 'a 128-byte volume key', edit((j) => (slot(j).key_size = 128))));
  v.push(vec('invalid-pbkdf2-iterations-over-cap', 'O10', 'invalid', 'accepts', 'PBKDF2 at 2^26 + 1 iterations', edit((j) => (slot(j).kdf.iterations = 2 ** 26 + 1))));
  v.push(vec('invalid-pbkdf2-iterations-zero', 'O10', 'invalid', 'accepts', 'PBKDF2 at 0 iterations', edit((j) => (slot(j).kdf.iterations = 0))));
  v.push(vec('invalid-digest-iterations-zero', 'O10', 'invalid', 'accepts', 'a digest of 0 iterations', edit((j) => (j.digests['0'].iterations = 0))));
  v.push(vec('invalid-argon2-memory-over-1gib', 'O11', 'invalid', 'accepts', 'argon2id at 2 GiB', edit((j) => (slot(j).kdf = argon(j, { memory: 2 * MIB })))));
  v.push(vec('invalid-argon2-work-over-cap', 'O11', 'invalid', 'accepts', 'argon2id at 1 GiB and 33 passes: over 2^35 KiB-passes', edit((j) => (slot(j).kdf = argon(j, { memory: MIB, time: 33 })))));
  v.push(vec('invalid-argon2-memory-per-lane', 'O11', 'invalid', 'accepts', 'argon2id at 16 KiB over 4 lanes: less than 8 KiB per lane', edit((j) => (slot(j).kdf = argon(j, { memory: 16, cpus: 4 })))));
  v.push(vec('valid-argon2-8-lanes', 'O11', 'valid', 'accepts', 'argon2id with 8 lanes: lanes split the memory, they add no work', edit((j) => (slot(j).kdf = argon(j, { memory: 65536, cpus: 8 })))));
  v.push(vec('invalid-salt-not-base64', 'O12', 'invalid', 'accepts', 'kdf salt "***"', edit((j) => (slot(j).kdf.salt = '***'))));
  v.push(vec('invalid-digest-without-digest', 'O12', 'invalid', 'accepts', 'a PBKDF2 digest without its digest member: cryptsetup checks it only when verifying', edit((j) => delete j.digests['0'].digest)));
  v.push(vec('unsupported-digest-hash', 'O9', 'unsupported', 'accepts', 'digest hash whirlpool', edit((j) => (j.digests['0'].hash = 'whirlpool'))));
  v.push(vec('invalid-area-key-size-24-xts', 'O13', 'invalid', 'accepts', 'an aes-xts area key of 24 bytes', edit((j) => (slot(j).area.key_size = 24))));
  v.push(vec('invalid-area-too-small', 'O13', 'invalid', 'accepts', 'a 4096-byte area for 128000 bytes of key material', edit((j) => (slot(j).area.size = '4096'))));
  v.push(vec('invalid-volume-key-0-bytes', 'O13', 'invalid', 'accepts', 'key_size 0', edit((j) => (slot(j).key_size = 0))));
  v.push(vec('valid-stripes-3999', 'O14', 'valid', 'accepts', 'af stripes 3999: cryptsetup always uses 4000, so do we, with a warning', edit((j) => (slot(j).af.stripes = 3999))));
  v.push(vec('invalid-priority-7', 'O15', 'invalid', 'accepts', 'key-slot priority 7', edit((j) => (slot(j).priority = 7))));
  v.push(vec('valid-priority-prefer', 'O15', 'valid', 'accepts', 'key-slot priority 2 (prefer)', edit((j) => (slot(j).priority = 2))));
  return v;
}
