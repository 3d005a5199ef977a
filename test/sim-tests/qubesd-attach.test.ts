// What a follower of qubesd's events sees during a real attach and detach on the simulator: every DisposableVM the tool
// makes appears, starts, stops and goes, in that order, the destination starts, and no secret is in any event.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RawAdminEvent } from '../../dom0/admin-event-frames.ts';
import { followAdminEvents } from '../../dom0/admin-events.ts';
import { startQubesd } from '../helpers/qubesd.ts';
import { makeVolume, newSim, runSplit, sim } from '../helpers/sim.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const tmp = useTmpDir();
const abort = new AbortController();
afterEach(() => abort.abort());

describe('qubesd events during attach and detach', () => {
  it('each DisposableVM: added, started, stopped, deleted, in order; no secret in the stream', async () => {
    const dir = newSim('--qubes-release=4.3');
    const qubesd = await startQubesd(dir);
    try {
      const seen: RawAdminEvent[] = [];
      const following = (async () => {
        for await (const event of followAdminEvents({ socketPath: qubesd.socket, signal: abort.signal })) seen.push(event);
      })();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const volume = await makeVolume(tmp, 'a.img');
      sim('add-block', dir, 'sys-usb', 'sda', volume.path);
      const attach = await runSplit(dir, ['attach', 'work', 'sys-usb:sda'], `${volume.passphrase}\n`);
      expect(attach.exitCode).toBe(0);
      const detach = await runSplit(dir, ['detach', 'sys-usb:sda']);
      expect(detach.exitCode).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 500));
      abort.abort();
      await following;

      expect(seen[0]?.event).toBe('connection-established');
      expect(seen.filter((e) => e.subject === 'sys-usb' && e.event === 'device-added:block')).toHaveLength(1);
      // The device VM exports its mapping (R4.3: added, then removed at detach), as real qubes do through qubesdb.
      const deviceVm = seen.find((e) => e.event === 'domain-add' && e.kwargs.vm?.startsWith('dm-device-disp'))?.kwargs.vm;
      const mappingEvents = seen.filter((e) => e.subject === deviceVm && /^device-(added|removed):block$/.test(e.event));
      expect(mappingEvents.map((e) => `${e.event} ${(e.kwargs.device ?? e.kwargs.port ?? '').split(':').slice(0, 2).join(':')}`)).toEqual([
        `device-added:block ${deviceVm}:dm-0`,
        `device-removed:block ${deviceVm}:dm-0`,
      ]);
      expect(seen.some((e) => e.subject === 'work' && e.event === 'domain-start')).toBe(true);
      const created = seen.filter((e) => e.event === 'domain-add').map((e) => e.kwargs.vm!);
      expect(created.some((name) => name.startsWith('dm-device-disp'))).toBe(true);
      expect(created.some((name) => name.startsWith('dm-header-disp'))).toBe(true);
      for (const vm of created) {
        const life = seen.filter((e) => e.subject === vm || e.kwargs.vm === vm).map((e) => e.event).filter((e) => ['domain-add', 'domain-start', 'domain-shutdown', 'domain-delete'].includes(e));
        expect(life, vm).toEqual(['domain-add', 'domain-start', 'domain-shutdown', 'domain-delete']);
      }
      const log = readFileSync(join(dir, 'qubesd', 'events.log'));
      for (const secret of [volume.volumeKey, Buffer.from(volume.volumeKey.toString('hex')), Buffer.from(volume.passphrase)]) expect(log.includes(secret)).toBe(false);
    } finally {
      await qubesd.stop();
    }
  });
});
