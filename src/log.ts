/** Logging to stderr (stdout belongs to the stdio transport and to command output); secrets are redacted by their shape. */
import { redactText } from "./records/redact.ts";

/** Logs an unexpected error with its stack, for operators; never sent to clients. */
export function logError(message: string, error: unknown): void {
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.error(redactText(`invoke: ${message}: ${detail}`));
}

/** Logs an informational line. */
export function logInfo(message: string): void {
  console.error(redactText(`invoke: ${message}`));
}
