/**
 * Step markers for the fault tests: with AFTY_TEST_PAUSE_AT=<step>, afty says on stderr that it
 * reached the step ("afty: paused at <step>") and waits there until it is killed, so a test can
 * kill it at exactly that point, without sleeps or races. Unset, it costs one comparison.
 */
export async function stepMarker(step: string): Promise<void> {
  if (process.env.AFTY_TEST_PAUSE_AT !== step) return;
  process.stderr.write(`afty: paused at ${step}\n`);
  // A timer keeps the event loop alive; the promise never settles.
  await new Promise(() => setInterval(() => {}, 1 << 30));
}
