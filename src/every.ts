/** Background work on a timer: `task` every `intervalMs`, never two runs at once (a slow run skips the ticks it overlaps). */
export function every(intervalMs: number, task: () => unknown, onError: (error: unknown) => void): () => void {
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      await task();
    } catch (error) {
      onError(error);
    } finally {
      busy = false;
    }
  }, intervalMs);
  // Background work never keeps the process alive on its own.
  timer.unref?.();
  return () => clearInterval(timer);
}
