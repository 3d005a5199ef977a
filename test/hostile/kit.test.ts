// The hostile-VM kit itself: rules pick the calls they should (VM prefix, Nth call), the frame scanner splits any chunking, and a
// pass-through wrapper around every service of an attach leaves the attach working, so a refusal elsewhere is dom0's, not the kit's.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../shared/protocol/frame.ts';
import { hostileCommand, hostilePick } from '../sim/hostile.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { attachments, newSim, runSplit, sim } from '../helpers/sim.ts';
import { installHostile, luks1Disk, observations, useHostileScripts } from './kit.ts';
import { FrameScanner } from './service-kit.ts';

const tmp = useTmpDir();
const scripts = useHostileScripts();

describe('hostile kit', { timeout: 180_000 }, () => {
  it('picks calls by service, VM prefix and Nth call', () => {
    const dir = newSim();
    const script = scripts.path('proxy');
    hostileCommand(dir, process.cwd(), ['--service', 'splitdmcrypt.HeaderUnlock', '--script', script, '--vm-prefix', 'dm-header-', '--nth', '2']);
    hostileCommand(dir, process.cwd(), ['--service', 'splitdmcrypt.DeviceOpen', '--script', script]);
    const pick = (vm: string, service: string) => {
      process.env.QUBES_SIM_VM = vm;
      return hostilePick(dir, [service]).trim();
    };
    expect(pick('dm-header-disp1', 'splitdmcrypt.HeaderUnlock')).toBe('real');
    expect(pick('dm-device-disp1', 'splitdmcrypt.HeaderUnlock')).toBe('real');
    expect(pick('dm-header-disp2', 'splitdmcrypt.HeaderUnlock')).toBe('1');
    expect(pick('dm-header-disp3', 'splitdmcrypt.HeaderUnlock')).toBe('real');
    expect(pick('work', 'splitdmcrypt.DeviceOpen')).toBe('2');
    expect(observations(dir, 'pick').map((o) => o.rule)).toEqual(['real', 'real', 1, 'real', 2]);
    hostileCommand(dir, process.cwd(), ['--clear']);
    expect(pick('dm-header-disp4', 'splitdmcrypt.HeaderUnlock')).toBe('real');
    delete process.env.QUBES_SIM_VM;
  });

  it('scans frames and counted bytes however the stream is cut', () => {
    const stream = Buffer.concat([encodeFrame({ type: 'unlock-request' }), encodeFrame({ type: 'bytes', length: 5 }), Buffer.from('HELLO'), encodeFrame({ type: 'secret' })]);
    for (const cut of [1, 3, 7, stream.length]) {
      const scanner = new FrameScanner();
      const pieces = [];
      for (let i = 0; i < stream.length; i += cut) pieces.push(...scanner.push(stream.subarray(i, i + cut)));
      const types = pieces.filter((p) => p.kind === 'frame').map((p) => (p.kind === 'frame' ? (p.message as { type: string }).type : ''));
      expect(types).toEqual(['unlock-request', 'bytes', 'secret']);
      expect(Buffer.concat(pieces.flatMap((p) => (p.kind === 'bytes' ? [p.data] : []))).toString()).toBe('HELLO');
    }
  });

  it('a pass-through wrapper around every attach service still attaches', async () => {
    const context = await luks1Disk(tmp, 'smoke');
    for (const service of ['DevicePrepare', 'DeviceSendHeader', 'HeaderUnlock', 'DeviceOpen']) {
      installHostile(context.dir, { service: `splitdmcrypt.${service}`, script: scripts.path('proxy') });
    }
    const run = await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], `${context.volume.passphrase}\n`);
    expect(run.exitCode, run.stderr).toBe(0);
    const read = sim('read-block', context.dir, 'work', 'xvdi');
    expect(read.subarray(0, context.volume.plaintext.length).equals(context.volume.plaintext)).toBe(true);
    // Every call went through the wrapper's script, which saw and passed on each frame.
    const picked = observations(context.dir, 'pick').map((o) => `${o.service} ${o.rule}`);
    expect(picked).toEqual(expect.arrayContaining(['splitdmcrypt.DevicePrepare 1', 'splitdmcrypt.HeaderUnlock 3', 'splitdmcrypt.DeviceOpen 4']));
    expect(observations(context.dir, 'out').map((o) => o.type)).toEqual(expect.arrayContaining(['device-prepared', 'unlocked', 'device-opened']));
    const received = observations(context.dir, 'in-bytes').filter((o) => String(o.service).startsWith('splitdmcrypt.HeaderUnlock'));
    const file = String(received[0]?.file);
    expect(readFileSync(file).equals(context.original.subarray(0, readFileSync(file).length))).toBe(true);
    expect((await runSplit(context.dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    expect(attachments(context.dir)).toEqual([]);
  });
});
