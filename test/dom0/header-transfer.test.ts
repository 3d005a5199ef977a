// The stepped header transfer, both ends together over an in-memory pipe: dom0 serves only what the header VM asks for, counted and
// capped; the VM side asks for exactly what its parser needs. A hostile VM's requests are a table of refusals.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Channel } from '../../shared/protocol/channel.ts';
import { HEADER_PROBE_BYTES, HeaderParsed, MAX_HEADER_TRANSFER_BYTES, ShellReady } from '../../shared/protocol/messages.ts';
import { bufferSource, serveHeaderInSteps } from '../../dom0/header-transfer.ts';
import { receiveHeaderInSteps } from '../../vm/lib/header-transfer.ts';

const MIB = 1024 * 1024;

/** dom0's channel and the VM's, joined. */
function pair(): { dom0: Channel; vm: Channel } {
  const toVm = new PassThrough();
  const toDom0 = new PassThrough();
  return { dom0: new Channel(toDom0, toVm, 'header VM test'), vm: new Channel(toVm, toDom0, 'dom0') };
}

const disk = (bytes: number): Buffer => Buffer.from(Array.from({ length: bytes }, (_, i) => i % 251));

describe('stepped header transfer', () => {
  it('sends the probe, then exactly what the VM asks for, and counts it', async () => {
    const { dom0, vm } = pair();
    const source = disk(8 * MIB);
    const served = serveHeaderInSteps(dom0, bufferSource(source), ShellReady);
    // The VM's parser wants 32 KiB, then 2068480 bytes.
    const wants = [32 * 1024, 2068480];
    const received = await receiveHeaderInSteps(vm, (prefix) => wants.find((w) => w > prefix.length) ?? prefix.length);
    vm.send({ type: 'shell-ready', bytes: received.length });
    const { sentBytes, message } = await served;
    expect(sentBytes).toBe(2068480);
    expect(received.length).toBe(2068480);
    expect(received.equals(source.subarray(0, 2068480))).toBe(true);
    expect(message).toMatchObject({ type: 'shell-ready', bytes: 2068480 });
  });

  it('never sends past the disk end or the transfer cap', async () => {
    const { dom0, vm } = pair();
    const small = disk(3000);
    const served = serveHeaderInSteps(dom0, bufferSource(small), ShellReady);
    const received = await receiveHeaderInSteps(vm, () => MAX_HEADER_TRANSFER_BYTES);
    vm.send({ type: 'shell-ready', bytes: received.length });
    expect((await served).sentBytes).toBe(3000);
    expect(received.length).toBe(3000);
    expect(HEADER_PROBE_BYTES).toBe(4096);
  });

  it.each([
    ['asks for no more than it has', [HEADER_PROBE_BYTES], /asked for 4096 header bytes after receiving 4096/],
    ['asks 17 times', Array.from({ length: 17 }, (_, i) => 8192 * (i + 1)), /more than 16 times/],
  ])('refuses a VM that %s', async (_what, needs, error) => {
    const { dom0, vm } = pair();
    const served = serveHeaderInSteps(dom0, bufferSource(disk(MIB)), HeaderParsed);
    void (async () => {
      await vm.receiveBytes('probe', HEADER_PROBE_BYTES);
      for (const bytes of needs) {
        vm.send({ type: 'header-need', bytes });
        await vm.receiveBytes('more', undefined, MIB).catch(() => undefined);
      }
    })();
    await expect(served).rejects.toThrow(error);
  });
});
