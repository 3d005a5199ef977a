// Property tests of dom0's parsers of user input: argv (shared/argv.ts and the command table of dom0/cli.ts), the
// configuration file (dom0/config.ts) and names (dom0/names.ts). Each returns a typed value or throws a typed error, and what
// it accepts obeys the rule it promises (Qubes' qube names, `[a-z0-9/-]{1,64}` ports, key-file paths kept in /home/user).
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArgv } from '../../shared/argv.ts';
import { parseSplitCommand, type SplitCommand } from '../../dom0/cli.ts';
import { normalizeConfig, parseConfigText } from '../../dom0/config.ts';
import { parseDevicePort, parseKeyFileSpec, parseSourceSpec, parseVmName, type KeyFileSpec, type SourceSpec } from '../../dom0/names.ts';
import { count, FUZZ_TIMEOUT_MS, fuzzRuns, SEED, summary, typedOrValue } from './runs.ts';

afterAll(() => console.log(`fuzz executions: ${summary()}`));

const QUBES_NAME = /^[a-zA-Z][a-zA-Z0-9_.-]{0,30}$/;
const PORT = /^[a-z0-9/-]{1,64}$/;

// Strings from characters that matter to these parsers, plus anything at all.
const nasty = fc.constantFrom(':', '/', '.', '..', '-', '--', '=', ' ', '\n', '\0', '\x1b', "'", '"', '$(', '`', 'é', '@dispvm', 'dom0', 'sys-usb', 'sda', 'dm-0', 'none', 'default', 'Domain-0', 'x-dm');
const token = fc.oneof(fc.string({ maxLength: 70 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.array(nasty, { maxLength: 6 }).map((parts) => parts.join('')), fc.stringMatching(/^[a-z][a-z0-9-]{0,12}:[a-z0-9/.-]{0,12}$/));

function checkSource(source: SourceSpec): void {
  expect(source.backend).toMatch(QUBES_NAME);
  expect(source.port).toMatch(PORT);
  expect(source.port.startsWith('-')).toBe(false);
  expect(source.port.split('/')).not.toContain('..');
}

function checkKeyFile(spec: KeyFileSpec): void {
  expect(spec.path.includes('\0')).toBe(false);
  if (spec.kind === 'vm') {
    expect(spec.vm).toMatch(QUBES_NAME);
    expect(spec.vm).not.toBe('dom0');
    expect(spec.path.startsWith('/') || spec.path.startsWith('-')).toBe(false);
    expect(spec.path.split('/')).not.toContain('..');
    expect(spec.path).not.toMatch(/[\x00-\x1f\x7f]/);
  }
}

function checkCommand(command: SplitCommand): void {
  if ('source' in command && command.source) checkSource(command.source);
  if (command.command === 'attach') {
    if (command.destination !== undefined) {
      expect(command.destination).toMatch(QUBES_NAME);
      expect(command.destination).not.toBe('dom0');
    }
  }
  if ('keyFile' in command && command.keyFile) checkKeyFile(command.keyFile);
}

describe('names', () => {
  it('parseVmName accepts exactly Qubes names (no dom0 as a target)', () => {
    fc.assert(
      fc.property(token, (raw) => {
        const name = typedOrValue(() => parseVmName(raw));
        count('names-vm');
        if (name === undefined) return;
        expect(name).toMatch(QUBES_NAME);
        expect(['dom0', 'none', 'default', 'Domain-0']).not.toContain(name);
        expect(name.endsWith('-dm')).toBe(false);
      }),
      { seed: SEED, numRuns: fuzzRuns() },
    );
  }, FUZZ_TIMEOUT_MS);

  it('parseDevicePort, parseSourceSpec and parseKeyFileSpec', () => {
    fc.assert(
      fc.property(token, (raw) => {
        const port = typedOrValue(() => parseDevicePort(raw));
        if (port !== undefined) checkSource({ backend: 'a' as SourceSpec['backend'], port });
        const source = typedOrValue(() => parseSourceSpec(raw));
        if (source !== undefined) checkSource(source);
        const keyFile = typedOrValue(() => parseKeyFileSpec(raw));
        if (keyFile !== undefined) checkKeyFile(keyFile);
        count('names-port-source-keyfile');
      }),
      { seed: SEED, numRuns: fuzzRuns(0.5) },
    );
  }, FUZZ_TIMEOUT_MS);
});

describe('argv and the command table', () => {
  const COMMANDS = ['attach', 'at', 'a', 'detach', 'dt', 'd', 'overwrite-everything-with-random', 'overwrite-header-with-random', 'overwrite-header-with-format', 'overwrite-header-with-shell', 'modify-header-with-shell', 'status', 'cleanup', 'help', '--help', '-h'];
  const OPTIONS = ['--ro', '--yes', '--key-file', '--key-file=', '--key-file=sys-usb:k', '--key-file=/k', '--type=luks1', '--type=luks2', '--type', '--key-size=256', '--key-size=128', '--hash=sha1', '--hash=sha512', '--iter-time=0', '--iter-time=5000', '--pbkdf-force-iterations=999', '--pbkdf-force-iterations=1000', '--', '-', '-x', '--bogus', '--ro=1'];
  const argument = fc.oneof(fc.constantFrom(...OPTIONS), fc.constantFrom('sys-usb:sda', 'work', '@dispvm', 'dom0', '-work', 'sys-usb:-sda', 'sys-usb:../x', 'sys-usb:sda/1'), token);

  it('parseSplitCommand: a typed command or a typed error', () => {
    fc.assert(
      fc.property(fc.constantFrom(...COMMANDS), fc.array(argument, { maxLength: 6 }), (name, rest) => {
        const command = typedOrValue(() => parseSplitCommand([name, ...rest]));
        count('cli-command');
        if (command !== undefined) checkCommand(command);
      }),
      { seed: SEED, numRuns: fuzzRuns() },
    );
  }, FUZZ_TIMEOUT_MS);

  it('parseArgv: only known options come out, and positionals keep their order', () => {
    const spec = { ro: 'boolean', yes: 'boolean', 'key-file': 'string', type: 'string' } as const;
    fc.assert(
      fc.property(fc.array(argument, { maxLength: 8 }), (raw) => {
        const parsed = typedOrValue(() => parseArgv(raw, spec));
        count('argv');
        if (parsed === undefined) return;
        for (const [name, value] of Object.entries(parsed.options)) {
          expect(Object.keys(spec)).toContain(name);
          expect(typeof value === 'string' ? spec[name as keyof typeof spec] : 'boolean').toBe(spec[name as keyof typeof spec]);
        }
        // Every positional is an argument as given, in order (none invented).
        let from = 0;
        for (const positional of parsed.positionals) {
          const at = raw.indexOf(positional, from);
          expect(at).toBeGreaterThanOrEqual(0);
          from = at + 1;
        }
      }),
      { seed: SEED, numRuns: fuzzRuns() },
    );
  }, FUZZ_TIMEOUT_MS);
});

describe('configuration file', () => {
  const line = fc.oneof(
    fc.constantFrom('', '# comment', '   ', 'TEMPLATE_FOR_DISPVMS=fedora-dvm', 'TEMPLATE_FOR_DISPVMS=', "DISPVM_LABEL='red'", 'START_TIMEOUT_S=60', 'REPLY_TIMEOUT_S=0', 'TOOL_TIMEOUT_S=86401', 'UNKNOWN=1', 'export X=1', '$(reboot)', 'A=B=C', 'TEMPLATE_FOR_DISPVMS="dom0"'),
    fc.tuple(fc.constantFrom('TEMPLATE_FOR_DISPVMS', 'DISPVM_LABEL', 'START_TIMEOUT_S', 'REPLY_TIMEOUT_S', 'TOOL_TIMEOUT_S', '__proto__', 'constructor'), token).map(([k, v]) => `${k}=${v}`),
    fc.string({ maxLength: 60 }),
  );
  it('parseConfigText + normalizeConfig: a configuration or a typed error', () => {
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), fc.constantFrom('\n', '\r\n'), (lines, eol) => {
        const warnings: string[] = [];
        const config = typedOrValue(() => normalizeConfig(parseConfigText(lines.join(eol), 'fuzz.conf', (m) => warnings.push(m)), 'fuzz.conf'));
        count('config');
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        if (config === undefined) return;
        if (config.templateForDispVms !== undefined) expect(config.templateForDispVms).toMatch(QUBES_NAME);
        expect(config.dispVmLabel).toMatch(/^[a-z][a-z0-9_-]{0,31}$/);
        for (const ms of [config.timeLimits.startMs ?? 1000, config.timeLimits.replyMs ?? 1000, config.timeLimits.toolMs ?? 1000]) {
          expect(Number.isInteger(ms) && ms >= 1000 && ms <= 86_400_000).toBe(true);
        }
      }),
      { seed: SEED, numRuns: fuzzRuns(0.5) },
    );
  }, FUZZ_TIMEOUT_MS);
});
