// attach with a new DisposableVM as destination: every call of a successful run fails in turn; hang and garbage on the first
// call of some tools and services (HANG_ON, GARBAGE_ON).
import { afterAll, describe, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { makeVolume } from '../helpers/sim.ts';
import { injectAt, recordSteps, representative, Tally, type Scenario } from './harness.ts';

const tmp = useTmpDir();
const volume = await makeVolume(tmp, 'attach.img', 'attach pass', 3 * 1024 * 1024);
const scenario: Scenario = { name: 'attach', args: ['attach', '--type=luks1', 'sys-usb:sda'], input: `${volume.passphrase}\n` };
const steps = await recordSteps(scenario, volume, tmp);
const tally = new Tally();
// Hangs where dom0 waits (a VM start, qubesd, a service's reply, a tool); garbage where dom0 reads what it gets (listings,
// qubesd's replies, services' replies).
const HANG_ON = ['qvm-start', 'qubesd:admin.vm.property.Get', 'service:splitdmcrypt.HeaderUnlock', 'qvm-kill', 'service:splitdmcrypt.DeviceOpen'];
const GARBAGE_ON = ['qvm-block', 'qubesd:admin.vm.property.Get', 'qubesd:admin.property.Get', 'service:splitdmcrypt.DeviceSendHeader', 'service:splitdmcrypt.HeaderUnlock', 'service:splitdmcrypt.DeviceOpen'];
afterAll(() => console.log(`failure injection ${tally.summary('attach')} (of ${steps.length} steps)`));

describe.concurrent('attach under failure injection', () => {
  it.each(steps)('fail at $label', async (step) => {
    tally.add((await injectAt(scenario, volume, tmp, step, steps, 'fail')).absorbed ? 'fail absorbed' : 'fail injected');
  }, 300_000);
  it.each(representative(steps, HANG_ON))('hang at $label', async (step) => {
    tally.add((await injectAt(scenario, volume, tmp, step, steps, 'hang')).absorbed ? 'hang absorbed' : 'hang injected');
  }, 300_000);
  it.each(representative(steps, GARBAGE_ON))('garbage at $label', async (step) => {
    tally.add((await injectAt(scenario, volume, tmp, step, steps, 'garbage')).absorbed ? 'garbage absorbed' : 'garbage injected');
  }, 300_000);
});
