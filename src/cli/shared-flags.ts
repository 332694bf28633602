/** Flags that several commands share, defined once. */
import type { FlagSpec } from "./command.ts";

/** `--db PATH`: the SQLite file. */
export const dbFlag: FlagSpec = { type: "string", env: "INVOKE_DB", value: "PATH", help: "SQLite database file (created if missing; default invoke.db)." };

/** `--json`: machine-readable output. */
export const jsonFlag: FlagSpec = { type: "boolean", help: "Print machine-readable JSON." };

/** `--config FILE`: YAML or JSON settings. */
export const configFlag: FlagSpec = { type: "string", env: "INVOKE_CONFIG", value: "FILE", help: "Configuration file (YAML or JSON)." };
