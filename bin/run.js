#!/usr/bin/env node
// `afty --version` is answered before oclif loads: importing @oclif/core alone costs about twice
// a bare `node -e 0`, and scripts call --version often. The output is oclif's own format.
const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === '--version' && !process.env.AFTY_NO_FAST_PATH) {
  const { readFileSync } = await import('node:fs');
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`afty/${version} ${process.platform}-${process.arch} node-${process.version}\n`);
} else {
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url });
}
