// The header prefix while it still arrives from the device VM: each read is served once its range is in, never before; reads
// past the transfer are clamped as from a whole buffer; a failed transfer fails every read that still needs bytes.
import { describe, expect, it } from 'vitest';
import { ArrivingHeaderBytes, bufferSource } from '../../dom0/header-transfer.ts';

/** Settles within the current turn of the event loop, or reports 'pending'. */
async function state<T>(promise: Promise<T>): Promise<T | 'pending' | { rejected: unknown }> {
  return Promise.race([promise.then((value) => value, (error: unknown) => ({ rejected: error })), new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))]);
}

describe('ArrivingHeaderBytes', () => {
  it('serves a range only once it has arrived, with the bytes a whole buffer would give', async () => {
    const disk = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
    const arriving = new ArrivingHeaderBytes(100);
    const source = arriving.source(5000);
    expect(source.diskBytes).toBe(5000);
    const first = source.read(0, 10);
    const later = source.read(40, 20);
    expect(await state(first)).toBe('pending');
    disk.copy(arriving.bytes, 0, 0, 30);
    arriving.arrived(30);
    expect(await state(first)).toEqual(disk.subarray(0, 10));
    expect(await state(later)).toBe('pending');
    disk.copy(arriving.bytes, 30, 30, 100);
    arriving.arrived(100);
    expect(await later).toEqual(disk.subarray(40, 60));
    // Past the end: clamped, as bufferSource does.
    expect(await source.read(90, 50)).toEqual(await bufferSource(disk).read(90, 50));
    expect(await source.read(200, 5)).toEqual(Buffer.alloc(0));
  });

  it('a transfer that fails fails the reads still waiting and later ones that need bytes not in, with its own error', async () => {
    const arriving = new ArrivingHeaderBytes(100);
    const source = arriving.source(100);
    arriving.bytes.fill(7, 0, 50);
    arriving.arrived(50);
    const waiting = source.read(40, 30);
    const failure = new Error('device VM: truncated');
    arriving.fail(failure);
    await expect(waiting).rejects.toBe(failure);
    await expect(source.read(60, 10)).rejects.toBe(failure);
    // What had arrived before the failure is still served.
    expect(await source.read(0, 50)).toEqual(Buffer.alloc(50, 7));
  });
});
