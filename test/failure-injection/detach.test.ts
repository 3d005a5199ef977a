// detach of an attachment to a running `work`: every call of a successful detach fails in turn (running detach again must then
// finish the job); hang and garbage on the first call of a few of them.
import { afterAll, describe, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { makeVolume } from '../helpers/sim.ts';
import { injectAt, recordSteps, representative, runSplit, Tally, type Scenario } from './harness.ts';

const tmp = useTmpDir();
const volume = await makeVolume(tmp, 'detach.img', 'detach pass', 3 * 1024 * 1024);
const scenario: Scenario = {
  name: 'detach',
  args: ['detach', 'sys-usb:sda'],
  input: '',
  workRunning: true,
  rerunAfterFailure: true,
  prepare: async (dir, prepared) => {
    const attach = await runSplit(dir, ['attach', '--type=luks1', 'work', 'sys-usb:sda'], `${prepared.passphrase}\n`);
    if (attach.exitCode !== 0) throw new Error(`attach before detach failed: ${attach.stderr}`);
  },
};
const steps = await recordSteps(scenario, volume, tmp);
const tally = new Tally();
afterAll(() => console.log(`failure injection ${tally.summary('detach')} (of ${steps.length} steps)`));

describe.concurrent('detach under failure injection', () => {
  it.each(steps)('fail at $label', async (step) => {
    tally.add((await injectAt(scenario, volume, tmp, step, steps, 'fail')).absorbed ? 'fail absorbed' : 'fail injected');
  }, 300_000);
  it.each(representative(steps, ['qvm-block', 'qubesd:admin.vm.CurrentState', 'service:splitdmcrypt.DeviceClose']))('hang at $label', async (step) => {
    tally.add((await injectAt(scenario, volume, tmp, step, steps, 'hang')).absorbed ? 'hang absorbed' : 'hang injected');
  }, 300_000);
  it.each(representative(steps, ['qubesd:admin.vm.CurrentState', 'service:splitdmcrypt.DeviceClose']))('garbage at $label', async (step) => {
    tally.add((await injectAt(scenario, volume, tmp, step, steps, 'garbage')).absorbed ? 'garbage absorbed' : 'garbage injected');
  }, 300_000);
});
