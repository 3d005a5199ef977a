// A small argparse look-alike for the fake tools: options with values (`-o v`, `-ov`, `--opt v`, `--opt=v`), flags and
// positionals; unknown options fail like argparse (usage line, `PROG: error: ...`, exit 2).
import { SimToolError } from './state.ts';

export interface ToolArgs {
  readonly values: ReadonlyMap<string, readonly string[]>;
  readonly flags: ReadonlySet<string>;
  readonly positionals: readonly string[];
}

export interface ArgSpec {
  /** Option names taking a value; aliases map to the first name of their group. */
  readonly valued?: readonly (readonly string[])[];
  readonly flags?: readonly (readonly string[])[];
  /** After the first positional, everything is positional (qvm-run's command). */
  readonly stopAtPositional?: number;
}

/** argparse's error: usage line, then `PROG: error: MESSAGE`, exit 2. */
export function usageError(prog: string, message: string): SimToolError {
  return new SimToolError(`usage: ${prog} [options]\n${prog}: error: ${message}`, 2);
}

function canonical(groups: readonly (readonly string[])[] | undefined, name: string): string | undefined {
  return groups?.find((group) => group.includes(name))?.[0];
}

/** Parses `args` for `prog` by `spec`. */
export function parseToolArgs(prog: string, args: readonly string[], spec: ArgSpec): ToolArgs {
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (spec.stopAtPositional !== undefined && positionals.length >= spec.stopAtPositional) {
      positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg.startsWith('--') ? arg : arg.slice(0, 2);
    const attached = eq > 0 ? arg.slice(eq + 1) : !arg.startsWith('--') && arg.length > 2 ? arg.slice(2) : undefined;
    const valued = canonical(spec.valued, name);
    if (valued) {
      const value = attached ?? args[++i];
      if (value === undefined) throw usageError(prog, `argument ${name}: expected one argument`);
      values.set(valued, [...(values.get(valued) ?? []), value]);
      continue;
    }
    const flag = canonical(spec.flags, name);
    if (!flag || attached !== undefined) throw usageError(prog, `unrecognized arguments: ${arg}`);
    flags.add(flag);
  }
  return { values, flags, positionals };
}

/** The last value of an option, or undefined. */
export function lastValue(args: ToolArgs, name: string): string | undefined {
  const all = args.values.get(name);
  return all?.[all.length - 1];
}
