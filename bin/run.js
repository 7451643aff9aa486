#!/usr/bin/env node
// `afty --version` and the help of the root and of topics are answered before oclif loads, with
// oclif's exact output (fast-path.js): loading oclif costs more than a bare `node -e 0`, and
// scripts and people call these often. AFTY_NO_FAST_PATH=1 sends everything to oclif, which the
// tests use to compare. Everything else runs from the bundle (bundle.js, scripts/bundle.mjs).
const output = process.env.AFTY_NO_FAST_PATH
  ? undefined
  : (await import('./fast-path.js')).fastOutput(process.argv.slice(2));
if (output !== undefined) {
  process.stdout.write(output);
} else {
  const { execute } = await import('./bundle.js');
  await execute({ dir: import.meta.url });
}
