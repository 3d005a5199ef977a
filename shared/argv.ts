// A strict command-line option parser shared by our CLIs: known options only, `--name=value` or `--name value`, `--` ends options.
import { UsageError } from './errors.ts';

export type OptionKind = 'string' | 'boolean';
export type OptionSpec = Readonly<Record<string, OptionKind>>;

export interface ParsedArgv {
  readonly options: Readonly<Record<string, string | true>>;
  readonly positionals: readonly string[];
}

/** Splits raw arguments into known options and positionals; unknown options, missing or unexpected values are UsageErrors. */
export function parseArgv(rawArguments: readonly string[], spec: OptionSpec): ParsedArgv {
  const options: Record<string, string | true> = Object.create(null);
  const positionals: string[] = [];
  for (let i = 0; i < rawArguments.length; i++) {
    const argument = rawArguments[i]!;
    if (argument === '--') {
      positionals.push(...rawArguments.slice(i + 1));
      break;
    }
    if (!argument.startsWith('-') || argument === '-') {
      positionals.push(argument);
      continue;
    }
    const match = /^--([a-z0-9][a-z0-9-]*)(?:=(.*))?$/s.exec(argument);
    const name = match?.[1];
    const kind = name === undefined ? undefined : spec[name];
    if (!match || name === undefined || kind === undefined) throw new UsageError(`unknown option '${argument.split('=')[0]}'`);
    if (Object.hasOwn(options, name)) throw new UsageError(`option --${name} given twice`);
    if (kind === 'boolean') {
      if (match[2] !== undefined) throw new UsageError(`option --${name} takes no value, received '${match[2]}'`);
      options[name] = true;
      continue;
    }
    const value = match[2] ?? rawArguments[++i];
    if (value === undefined) throw new UsageError(`option --${name} expects a value`);
    options[name] = value;
  }
  return { options, positionals };
}

/** A string option's value, or undefined when absent. */
export function stringOption(parsed: ParsedArgv, name: string): string | undefined {
  const value = parsed.options[name];
  return typeof value === 'string' ? value : undefined;
}

/** A positive integer option within [min, max], or undefined when absent. */
export function integerOption(parsed: ParsedArgv, name: string, min: number, max: number): number | undefined {
  const raw = stringOption(parsed, name);
  if (raw === undefined) return undefined;
  if (!/^[0-9]{1,10}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`option --${name} expects an integer from ${min} to ${max}, received '${raw}'`);
  }
  return Number(raw);
}
