// How long the header DisposableVM holds the secrets of an unlock (issue 19, item 7), measured on the real bundle and engine:
// - the passphrase, from its arrival to its zeroing: bounded from outside the service (runHeaderUnlock's window) for one slot,
//   and for eight slots with the right passphrase first and last, which shows that the answer no longer waits for the slowest slot;
// - the volume key, from the AF merge that makes the candidate to its zeroing after the sealed copy is sent: the engine's phases
//   after the KDF (AF merge, digest check) and the seal, timed in this process on the same volume.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { newBoxKeyPair, sealTo } from '../shared/seal.ts';
import { median, round, watchLoad, type LoadReport } from './measure.ts';
import { runHeaderUnlock, type SecretWindow } from './services.ts';
import { enginePhases, passphraseOf, type UnlockVolumes } from './unlock.ts';

export interface SecretLifetimeFigure {
  readonly passphrase_ms: {
    readonly one_slot: number;
    readonly eight_slots_right_in_slot_0: number;
    readonly eight_slots_right_in_slot_7: number;
    readonly runs: Record<string, number[]>;
  };
  readonly volume_key_ms: { readonly total: number; readonly af_merge: number; readonly digest: number; readonly seal: number };
  readonly how: string;
  readonly load: LoadReport;
}

async function passphraseWindows(volume: string, slot: number, runs: number): Promise<number[]> {
  const windows: number[] = [];
  for (let i = 0; i < runs; i++) {
    const window: SecretWindow = {};
    await runHeaderUnlock(volume, passphraseOf(slot), false, window);
    if (window.passphraseMs === undefined) throw new Error('bench: the unlock ended without an unlocked message');
    windows.push(round(window.passphraseMs, 1));
  }
  return windows;
}

function sealMs(keyBytes: number): number {
  const recipient = newBoxKeyPair().publicKey;
  const key = randomBytes(keyBytes);
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const start = performance.now();
    sealTo(recipient, key);
    times.push(performance.now() - start);
  }
  key.fill(0);
  return median(times);
}

export async function secretLifetimeFigure(volumes: UnlockVolumes, runs: number): Promise<SecretLifetimeFigure> {
  const load = watchLoad();
  const runsBy = {
    one_slot: await passphraseWindows(volumes.single, 0, runs),
    eight_slots_right_in_slot_0: await passphraseWindows(volumes.multi, 0, runs),
    eight_slots_right_in_slot_7: await passphraseWindows(volumes.multi, 7, runs),
  };
  const phases = await enginePhases(volumes.single, 0);
  const afMerge = phases.warm_af_merge_ms ?? Number.NaN;
  const digest = phases.warm_digest_ms ?? Number.NaN;
  const seal = round(sealMs(64), 2);
  return {
    passphrase_ms: {
      one_slot: median(runsBy.one_slot),
      eight_slots_right_in_slot_0: median(runsBy.eight_slots_right_in_slot_0),
      eight_slots_right_in_slot_7: median(runsBy.eight_slots_right_in_slot_7),
      runs: runsBy,
    },
    volume_key_ms: { total: round(afMerge + digest + seal, 1), af_merge: afMerge, digest, seal },
    how: `LUKS1 volumes of ${volumes.iterations} PBKDF2-SHA256 iterations per slot made by cryptsetup; passphrase: the sealed reply sent to 'unlocked' received, through the built splitdmcrypt.HeaderUnlock (an upper bound); volume key: AF merge + digest check + seal, timed in-process`,
    load: load.stop(),
  };
}
