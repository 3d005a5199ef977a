// Whether dom0's stderr gets terminal decoration (colours, the live status line): output.ts and status-line.ts both ask.

/** A terminal, and NO_COLOR absent (any value, even empty, turns decoration off), and TERM not dumb. */
export function useColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && env.NO_COLOR === undefined && env.TERM !== 'dumb';
}
