// The three overwrite commands: the calls of a successful run fail in turn (see ownSteps); hang and garbage on the services. The
// source may change only from the step that writes it on, and only in the area the command is about.
import { afterAll, describe } from 'vitest';
import { LUKS1_HEADER_AREA_BYTES } from '../../shared/luks1/constants.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { makeVolume } from '../helpers/sim.ts';
import { injectionCases, recordSteps, Tally, type Scenario, type Step } from './harness.ts';

const tmp = useTmpDir();
const SIZE = 3 * 1024 * 1024;
const volume = await makeVolume(tmp, 'overwrite.img', 'old pass', SIZE);
const header = { start: 0, end: LUKS1_HEADER_AREA_BYTES };
const scenarios: Scenario[] = [
  { name: 'everything', args: ['overwrite-everything-with-random', '--yes', 'sys-usb:sda'], input: '', writesFrom: 'service:splitdmcrypt.DeviceWipe', mayChange: { start: 0, end: SIZE } },
  { name: 'header-random', args: ['overwrite-header-with-random', '--yes', '--type=luks1', 'sys-usb:sda'], input: '', writesFrom: 'service:splitdmcrypt.DeviceWriteHeader', mayChange: header },
  {
    name: 'header-format',
    args: ['overwrite-header-with-format', '--yes', '--type=luks1', '--pbkdf-force-iterations=1000', 'sys-usb:sda'],
    input: 'new pass\nnew pass\n',
    writesFrom: 'service:splitdmcrypt.DeviceWriteHeader',
    mayChange: header,
  },
];
const recorded = await Promise.all(scenarios.map(async (scenario) => ({ scenario, steps: await recordSteps(scenario, volume, tmp) })));
const tally = new Tally();
afterAll(() => console.log(`failure injection ${tally.summary('overwrite')} (of ${recorded.map(({ scenario, steps }) => `${steps.length} ${scenario.name}`).join(', ')} steps)`));

// The three commands share their set-up (overwrite.ts setUp: lock, checks, DisposableVMs, DevicePrepare, source attachment):
// header-format, whose set-up is the largest (device and header VMs), gets a fault at every step; the other two from their own
// writing step on (the write, then their clean-up), which is the code they do not share.
const ownSteps = (scenario: Scenario, steps: readonly Step[]): Step[] => {
  if (scenario.name === 'header-format') return [...steps];
  const writer = steps.find((step) => step.key === scenario.writesFrom)!;
  return steps.filter((step) => step.seq >= writer.seq);
};

for (const { scenario, steps } of recorded) {
  describe.concurrent(`overwrite ${scenario.name} under failure injection`, () => injectionCases(scenario, volume, tmp, steps, ownSteps(scenario, steps), tally));
}
