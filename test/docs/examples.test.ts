// Every command line the README and the man page show as an example parses with our CLI: a documented example that no longer
// parses fails the build. Usage synopses (with `[`, `|` or `<`) are grammar, not examples, and are left out.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSplitCommand } from '../../dom0/cli.ts';

/** `qvm-block-split ...` command lines in `text`, from code spans and indented blocks, without synopses. */
function examples(text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(/(?:^|`|\n\s*)(qvm-block-split(?: [^`\n]*)?)/g)) {
    const line = match[1]!.replace(/\s+#.*$/, '').trim();
    if (!/[[|<]/.test(line) && line.includes(' ')) found.add(line);
  }
  return [...found];
}

/** The man page's EXAMPLES section, with roff's escaped hyphens made plain. */
function manExamples(): string[] {
  const page = readFileSync('dom0/qvm-block-split.1', 'utf8');
  const section = page.slice(page.indexOf('.SH EXAMPLES'), page.indexOf('.SH SEE ALSO'));
  return section.split('\n').filter((line) => line.startsWith('qvm-block-split ')).map((line) => line.replace(/\\-/g, '-'));
}

const documented = [...examples(readFileSync('README.md', 'utf8')).map((line) => ['README.md', line]), ...manExamples().map((line) => ['qvm-block-split.1', line])];

describe('documented examples', () => {
  it('finds examples in both documents', () => {
    expect(documented.filter(([where]) => where === 'README.md').length).toBeGreaterThanOrEqual(3);
    expect(documented.filter(([where]) => where === 'qvm-block-split.1').length).toBeGreaterThanOrEqual(5);
  });

  it.each(documented)('%s: %s parses', (_where, line) => {
    const argv = line.split(/\s+/).slice(1);
    expect(() => parseSplitCommand(argv)).not.toThrow();
  });
});
