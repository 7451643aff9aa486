import { onAbort } from './work-scope.js';

/**
 * Step markers for the fault tests: with AFTY_TEST_PAUSE_AT=<step>, afty says on stderr that it
 * reached the step ("afty: paused at <step>") and waits there until it is killed, or until the
 * fleet run aborts the work (a second Ctrl-C), like any work in flight. A test can so stop afty at
 * exactly that point, without sleeps or races. Unset, it costs one comparison.
 */
export async function stepMarker(step: string): Promise<void> {
  if (process.env.AFTY_TEST_PAUSE_AT !== step) return;
  process.stderr.write(`afty: paused at ${step}\n`);
  // A timer keeps the event loop alive until the abort (if any) ends the wait.
  const timer = setInterval(() => {}, 1 << 30);
  await new Promise<never>((_resolve, reject) =>
    onAbort((reason) => {
      clearInterval(timer);
      reject(reason);
    }),
  );
}
