import { killedRestoreSuite } from './restore-journal-fixture.js';

// The other half of restore-journal.test.ts, in a file of its own so the halves run in parallel.
killedRestoreSuite('backup restore');
