// Key slots derived side by side within a memory budget: the runs are a table (cryptsetup's order kept, Argon2 memory summed,
// PBKDF2 counting none, one slot always tried alone if it exceeds the budget), and an unlock with any budget gives the sequential
// answer: the first slot in cryptsetup's order that opens, with the same volume key.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLuks2Header, unlockLuks2 } from '../../../shared/luks2/index.ts';
import type { Luks2Keyslot } from '../../../shared/luks2/metadata.ts';
import { unlockBatches } from '../../../shared/luks2/unlock.ts';
import { cryptsetupAddKeyLuks2, cryptsetupFormatLuks2 } from '../../helpers/cryptsetup.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

const tmp = useTmpDir();

const slot = (id: number, memoryKiB: number): Luks2Keyslot =>
  ({ id, kdf: memoryKiB === 0 ? { type: 'pbkdf2', hash: 'sha256', iterations: 1000, salt: new Uint8Array(32) } : { type: 'argon2id', time: 4, memoryKiB, cpus: 1, salt: new Uint8Array(32) } }) as unknown as Luks2Keyslot;
const ids = (runs: Luks2Keyslot[][]): number[][] => runs.map((run) => run.map((s) => s.id));
const GIB = 1024 * 1024;

describe('unlockBatches', () => {
  it.each([
    ['no budget: one at a time', [slot(0, GIB), slot(1, GIB)], undefined, [[0], [1]]],
    ['three 256 MiB slots in a 1 GiB budget, 2 CPUs', [slot(0, GIB / 4), slot(1, GIB / 4), slot(2, GIB / 4)], { memoryBudgetKiB: GIB, maxConcurrent: 2 }, [[0, 1], [2]]],
    ['three 1 GiB slots in a 1 GiB budget: one at a time', [slot(0, GIB), slot(1, GIB), slot(2, GIB)], { memoryBudgetKiB: GIB, maxConcurrent: 4 }, [[0], [1], [2]]],
    ['a slot larger than the budget is still tried, alone', [slot(0, 2 * GIB), slot(1, 0)], { memoryBudgetKiB: GIB, maxConcurrent: 4 }, [[0], [1]]],
    ['PBKDF2 slots take no budget', [slot(0, 0), slot(1, 0), slot(2, GIB)], { memoryBudgetKiB: GIB, maxConcurrent: 4 }, [[0, 1, 2]]],
    ['order kept: a big slot between small ones starts a new run', [slot(3, GIB / 2), slot(0, GIB), slot(1, GIB / 2)], { memoryBudgetKiB: GIB, maxConcurrent: 4 }, [[3], [0], [1]]],
  ] as const)('%s', (_what, slots, concurrency, expected) => {
    expect(ids(unlockBatches(slots, concurrency))).toEqual(expected);
  });
});

describe('unlockLuks2 with a budget', () => {
  it('gives the sequential answer: the first slot in order that opens, the same key, every slot announced', { timeout: 120_000 }, async () => {
    const path = join(tmp, 'three.img');
    await cryptsetupFormatLuks2(path, 'shared', { kdf: 'argon2id' });
    writeFileSync(join(tmp, 'shared.key'), 'shared');
    writeFileSync(join(tmp, 'other.key'), 'other');
    await cryptsetupAddKeyLuks2(path, join(tmp, 'shared.key'), join(tmp, 'other.key'), 'argon2id', 1);
    await cryptsetupAddKeyLuks2(path, join(tmp, 'shared.key'), join(tmp, 'shared.key'), 'argon2id', 2);
    const area = readFileSync(path).subarray(0, 16 * 1024 * 1024);
    const header = parseLuks2Header(area);
    const sequential = await unlockLuks2(header, area, Buffer.from('shared'));
    const announced: number[] = [];
    const parallel = await unlockLuks2(header, area, Buffer.from('shared'), { concurrency: { memoryBudgetKiB: GIB, maxConcurrent: 3 }, onSlot: (s) => announced.push(s.id) });
    // Slots 0 and 2 both open with it: slot 0 comes first in cryptsetup's order, derived alongside the others.
    expect(parallel.keyslot).toBe(0);
    expect(sequential.keyslot).toBe(0);
    expect(parallel.volumeKey.equals(sequential.volumeKey)).toBe(true);
    expect(announced).toEqual([0, 1, 2]);
    const other = await unlockLuks2(header, area, Buffer.from('other'), { concurrency: { memoryBudgetKiB: GIB, maxConcurrent: 3 } });
    expect(other.keyslot).toBe(1);
    expect(other.volumeKey.equals(sequential.volumeKey)).toBe(true);
  });
});
