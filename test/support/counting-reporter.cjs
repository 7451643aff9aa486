// Mocha's spec reporter, plus one plain closing line "N passed, N failed" that CI reads.
//
// npm test runs two mocha groups, the parallel one (.mocharc.json) and then the serial one
// (.mocharc.serial.json), and the closing line must count both: with the reporter option
// totals=save the first run leaves its counts in a file; with totals=add the next run adds them
// (if they are fresh) and removes the file.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const Mocha = require('mocha');

const { EVENT_RUN_END } = Mocha.Runner.constants;

// One file per checkout, so two checkouts testing at once keep their counts apart.
const TOTALS_FILE = path.join(
  os.tmpdir(),
  `afty-test-totals-${Buffer.from(process.cwd()).toString('base64url').slice(-40)}.json`,
);
// The serial group starts seconds after the parallel one ends; older counts are from another run.
const FRESH_MS = 5 * 60_000;

function carriedTotals() {
  try {
    if (Date.now() - fs.statSync(TOTALS_FILE).mtimeMs > FRESH_MS) return { passes: 0, failures: 0 };
    return JSON.parse(fs.readFileSync(TOTALS_FILE, 'utf8'));
  } catch {
    return { passes: 0, failures: 0 };
  } finally {
    fs.rmSync(TOTALS_FILE, { force: true });
  }
}

class CountingReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const mode = options.reporterOption?.totals;
    if (mode === 'save') fs.rmSync(TOTALS_FILE, { force: true });
    runner.once(EVENT_RUN_END, () => {
      let { passes, failures } = runner.stats;
      if (mode === 'save') fs.writeFileSync(TOTALS_FILE, JSON.stringify({ passes, failures }));
      if (mode === 'add') {
        const carried = carriedTotals();
        passes += carried.passes;
        failures += carried.failures;
      }
      process.stdout.write(`\n${passes} passed, ${failures} failed\n`);
    });
  }
}

module.exports = CountingReporter;
