/**
 * Where backtests read recorded actions from. The execution log provides them; a server without
 * one has an empty history.
 */
import type { RecordedAction } from "./backtest.ts";

/** A source of recorded actions per tenant. */
export interface RecordSource {
  recordedActions(tenantId: string, since: number): Iterable<RecordedAction>;
}

/** No records yet. */
export const emptyRecords: RecordSource = { recordedActions: () => [] };
