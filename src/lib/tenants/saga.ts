import { errorMessage } from '../errors.js';
import { stepMarker } from '../step-marker.js';

/** A step that does something and knows how to undo it. */
export interface Step {
  name: string;
  run(): Promise<void>;
  undo?(): Promise<void>;
}

export interface StepHooks {
  /** Called after each step succeeds (progress; tests inject faults here). */
  afterStep?(name: string): void | Promise<void>;
}

/**
 * Runs steps in order; when one fails, undoes the completed ones in reverse so nothing is
 * left half-done. Undo failures are appended to the error so the operator can clean up.
 */
export async function runSteps(steps: Step[], hooks: StepHooks = {}): Promise<void> {
  const done: Step[] = [];
  try {
    for (const step of steps) {
      await step.run();
      done.push(step);
      await hooks.afterStep?.(step.name);
      await stepMarker(step.name);
    }
  } catch (error) {
    const leftovers: string[] = [];
    for (const step of done.reverse()) {
      try {
        await step.undo?.();
      } catch (undoError) {
        leftovers.push(`${step.name} (${errorMessage(undoError)})`);
      }
    }
    if (leftovers.length > 0 && error instanceof Error) {
      error.message += `; could not undo: ${leftovers.join(', ')}`;
    }
    throw error;
  }
}
