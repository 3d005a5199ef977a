// Tiny fake dom0 tools for adapter tests: each records its argv and answers as the test arranged (stdout, stderr, exit code,
// delay), found first on PATH exactly as the simulator's fakes are.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const TOOLS = ['qvm-create', 'qvm-start', 'qvm-kill', 'qvm-remove', 'qvm-check', 'qvm-prefs', 'qubes-prefs', 'qvm-ls', 'qvm-block', 'qvm-run'];

const SCRIPT = `#!/bin/sh
tool=\${0##*/}
d="$FAKE_TOOLS_DIR"
line="$tool"
for a in "$@"; do line="$line [$a]"; done
printf '%s\\n' "$line" >> "$d/calls"
[ -f "$d/$tool.sleep" ] && sleep "$(cat "$d/$tool.sleep")"
[ -f "$d/$tool.stdin-to-stdout" ] && cat
[ -f "$d/$tool.stdout" ] && cat "$d/$tool.stdout"
[ -f "$d/$tool.stderr" ] && cat "$d/$tool.stderr" >&2
exit "$(cat "$d/$tool.exit" 2>/dev/null || echo 0)"
`;

export interface FakeAnswer {
  readonly stdout?: string | Buffer;
  readonly stderr?: string | Buffer;
  readonly exit?: number;
  readonly sleepS?: number;
  readonly echoStdin?: boolean;
}

/** Installs the fakes in `dir/bin`, puts them first on PATH and returns helpers to script answers and read calls. */
export function installFakeTools(dir: string) {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const tool of TOOLS) {
    writeFileSync(join(bin, tool), SCRIPT);
    chmodSync(join(bin, tool), 0o755);
  }
  process.env.PATH = `${bin}:${process.env.PATH}`;
  process.env.FAKE_TOOLS_DIR = dir;
  const file = (tool: string, kind: string) => join(dir, `${tool}.${kind}`);
  return {
    answer(tool: string, answer: FakeAnswer): void {
      for (const kind of ['stdout', 'stderr', 'exit', 'sleep', 'stdin-to-stdout']) rmSync(file(tool, kind), { force: true });
      if (answer.stdout !== undefined) writeFileSync(file(tool, 'stdout'), answer.stdout);
      if (answer.stderr !== undefined) writeFileSync(file(tool, 'stderr'), answer.stderr);
      if (answer.exit !== undefined) writeFileSync(file(tool, 'exit'), String(answer.exit));
      if (answer.sleepS !== undefined) writeFileSync(file(tool, 'sleep'), String(answer.sleepS));
      if (answer.echoStdin) writeFileSync(file(tool, 'stdin-to-stdout'), '');
    },
    /** Calls since the last take, as `tool [arg] [arg]` lines. */
    takeCalls(): string[] {
      const path = join(dir, 'calls');
      if (!existsSync(path)) return [];
      const calls = readFileSync(path, 'utf8').split('\n').filter(Boolean);
      rmSync(path);
      return calls;
    },
  };
}
