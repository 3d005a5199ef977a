import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePolicyFile, parsePolicyLine, resolveCall } from './policy-grammar.ts';

const POLICY_DIR = 'rpc-policy';
const POLICY = `${POLICY_DIR}/50-split-dm-crypt.policy`;

/** Services from vm/services/ (one file per service); the ARCHITECTURE.md table while that folder is empty. */
function serviceNames(): string[] {
  const files = readdirSync('vm/services').filter((f) => /^splitdmcrypt\.[A-Za-z]+\.ts$/.test(f));
  if (files.length > 0) return files.map((f) => f.slice(0, -3));
  return [...new Set(readFileSync('docs/ARCHITECTURE.md', 'utf8').match(/splitdmcrypt\.[A-Za-z]+/g) ?? [])];
}

describe('policy grammar', () => {
  it.each([
    ['splitdmcrypt.DeviceOpen * @anyvm @anyvm deny'],
    ['splitdmcrypt.DeviceOpen +luks1 @anyvm @adminvm deny notify=yes'],
    ['splitdmcrypt.DeviceOpen + @tag:trusted @dispvm:fedora-dvm allow user=root autostart=no'],
    ['* * @type:AppVM @default ask default_target=work'],
  ])('accepts %j', (line) => {
    expect(() => parsePolicyLine(line)).not.toThrow();
  });

  it.each([
    // Fewer than five fields: qrexec rejects the whole file.
    ['splitdmcrypt.DeviceOpen * @anyvm deny'],
    // The argument belongs in the second column, not glued to the service name.
    ['splitdmcrypt.DeviceOpen+luks1 * @anyvm @anyvm deny'],
    // The argument column must be *, + or +arg.
    ['splitdmcrypt.DeviceOpen luks1 @anyvm @anyvm deny'],
    // Service names are [A-Za-z0-9_.-]; no prefix globs such as splitdmcrypt.*.
    ['splitdmcrypt.* * @anyvm @anyvm deny'],
    // R4.0 syntax ($anyvm) is not accepted by the R4.1+ parser.
    ['splitdmcrypt.DeviceOpen * $anyvm $anyvm deny'],
    // @default only makes sense as a target.
    ['splitdmcrypt.DeviceOpen * @default @anyvm deny'],
    // Unknown action.
    ['splitdmcrypt.DeviceOpen * @anyvm @anyvm reject'],
    // deny takes only notify=.
    ['splitdmcrypt.DeviceOpen * @anyvm @anyvm deny user=root'],
    // notify must be yes or no.
    ['splitdmcrypt.DeviceOpen * @anyvm @anyvm deny notify=maybe'],
    // A parameter without a value is not key=value.
    ['splitdmcrypt.DeviceOpen * @anyvm @anyvm allow target'],
    // Unknown @-token.
    ['splitdmcrypt.DeviceOpen * @everyone @anyvm deny'],
    // Unknown VM type.
    ['splitdmcrypt.DeviceOpen * @type:Robot @anyvm deny'],
    // A wildcard service cannot be combined with a specific argument.
    ['* +luks1 @anyvm @anyvm deny'],
  ])('rejects %j', (line) => {
    expect(() => parsePolicyLine(line)).toThrow();
  });
});

describe('50-split-dm-crypt.policy', () => {
  const rules = parsePolicyFile(readFileSync(POLICY, 'utf8'));

  it('has a file name qrexec accepts', () => {
    for (const file of readdirSync(POLICY_DIR).filter((f) => f.endsWith('.policy'))) expect(file).toMatch(/^[0-9a-z_.-]+\.policy$/);
  });

  it('only denies, and only splitdmcrypt services', () => {
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(rule.action).toBe('deny');
      expect(rule.service).toMatch(/^splitdmcrypt\./);
    }
  });

  const services = serviceNames();
  it('knows the services', () => {
    expect(services.length).toBeGreaterThanOrEqual(8);
  });

  describe.each(services)('%s', (service) => {
    it.each([
      ['work', 'dm-device-disp0001', 'another named qube'],
      ['dm-header-disp0002', 'dm-device-disp0001', 'the header VM calling the device VM'],
      ['work', 'dom0', 'dom0 as target'],
      ['work', '@adminvm', 'dom0 by token'],
      ['work', '@dispvm', 'a new DisposableVM'],
      ['work', '@default', 'no target given'],
    ])('a call from %s to %s (%s) is explicitly denied', (source, target) => {
      for (const argument of ['', 'luks1', 'x']) {
        const { action, rule } = resolveCall(rules, { service, argument, source, target });
        expect(action).toBe('deny');
        expect(rule, `no explicit line for ${service}+${argument} ${source} -> ${target}`).toBeDefined();
      }
    });
  });
});
