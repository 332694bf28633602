// Alternating wrk runs for A/B benchmarks on this noisy machine: each variant is loaded in turn,
// round after round, so slow drifts fall on all alike; the medians are compared.
import { runWrk, type WrkStats } from "./wrk.ts";

/** One side of an A/B comparison: what wrk sends, and where. */
export interface Variant {
  label: string;
  url: string;
  body: string;
  headers: Record<string, string>;
}

export function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const middle = sorted.length / 2;
  return Number.isInteger(middle) ? (sorted[middle - 1]! + sorted[middle]!) / 2 : sorted[Math.floor(middle)]!;
}

/** Warms each variant up (2 s), then runs them in turn for `rounds` rounds; prints each run and returns the median req/s of each. */
export async function alternate(variants: Variant[], options: { rounds: number; seconds: number; connections: number }): Promise<number[]> {
  const { rounds, seconds, connections } = options;
  const rps = variants.map(() => [] as number[]);
  for (const variant of variants) await runWrk({ ...variant, connections, seconds: 2 });
  const width = Math.max(...variants.map((variant) => variant.label.length));
  for (let round = 1; round <= rounds; round++) {
    for (const [index, variant] of variants.entries()) {
      const stats: WrkStats = await runWrk({ ...variant, connections, seconds });
      rps[index]!.push(stats.rps);
      console.log(`  round ${round}  ${variant.label.padEnd(width)}  ${Math.round(stats.rps).toLocaleString("en-US").padStart(7)} req/s  p99 ${stats.p99Ms.toFixed(2)} ms`);
    }
  }
  return rps.map(median);
}
