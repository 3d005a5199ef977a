// upgrade (the key-slot command that rewrites the most: LUKS1 converted to LUKS2 up to the data) under failure injection: every
// call from the header VM's HeaderKeyslots on fails in turn, and the services hang or answer garbage. The set-up before it
// (lock, DisposableVMs, DevicePrepare, attachment, the verify VM's first read) is the destructive commands' shared one, which
// overwrite.test.ts already injects at every step. Before the device VM's one write the old header must be intact; the write
// may change only the header area (up to the data); nothing is left behind.
import { afterAll, describe } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { makeVolume } from '../helpers/sim.ts';
import { injectionCases, recordSteps, Tally, type Scenario, type Step } from './harness.ts';

const tmp = useTmpDir();
const SIZE = 3 * 1024 * 1024;
const volume = await makeVolume(tmp, 'upgrade.img', 'old pass', SIZE);
const scenario: Scenario = {
  name: 'upgrade',
  args: ['upgrade', '--yes', '--pbkdf-force-iterations=4', '--pbkdf-memory=8192', 'sys-usb:sda'],
  input: 'old pass\n',
  writesFrom: 'service:splitdmcrypt.DeviceWriteHeader',
  mayChange: { start: 0, end: volume.payloadOffset * 512 },
};
const steps = await recordSteps(scenario, volume, tmp);
const tally = new Tally();
afterAll(() => console.log(`failure injection ${tally.summary('upgrade')} (of ${steps.length} steps)`));

const ownSteps = (all: readonly Step[]): Step[] => {
  const first = all.find((step) => step.key === 'service:splitdmcrypt.HeaderKeyslots')!;
  return all.filter((step) => step.seq >= first.seq);
};
describe.concurrent('upgrade under failure injection', () => injectionCases(scenario, volume, tmp, steps, ownSteps(steps), tally));
