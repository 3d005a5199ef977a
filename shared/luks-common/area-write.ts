// One contiguous write into a volume: what every header or key-slot change hands its caller to write back.
export interface AreaWrite {
  readonly offset: number;
  readonly bytes: Uint8Array;
}
