// Bundles every command, src/lib and the production dependencies (@oclif/core, knex, zod…) into one
// CommonJS file, dist/afty.cjs, and replaces tsc's dist/commands/**.js with two-line stubs that
// take their command from it. Why: a command touching the registry loaded ~650 files (oclif, knex
// and its lodash, zod…) and spent most of its start-up resolving, reading and compiling them; one
// file that bin/bundle.js compiles with a V8 code cache skips nearly all of that. CommonJS because
// only vm.Script takes a code cache on Node 20; its import() calls are rewritten to a function
// bin/bundle.js passes in, because on Node 20 code restored from a cache loses vm's import() hook. Nothing here names a command or a module: every file
// under src/commands is an entry, and the bundle's lazy imports stay lazy (esbuild defers each
// module's initialisation until its first require or import()).
import { parse } from 'acorn';
import * as esbuild from 'esbuild';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.dirname(import.meta.dirname);
const COMMANDS = path.join(ROOT, 'src/commands');
const DIST = path.join(ROOT, 'dist');

const ids = readdirSync(COMMANDS, { recursive: true })
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
  .map((file) => file.slice(0, -3).split(path.sep).join('/'))
  .sort();

// Loaders, not modules: a command's code (and what it imports) is initialised when oclif asks for it.
const entry = [
  "exports.execute = require('@oclif/core').execute;",
  'exports.commands = {',
  ...ids.map(
    (id) => `  ${JSON.stringify(id)}: () => require(${JSON.stringify(`./src/commands/${id}.ts`)}).default,`,
  ),
  '};',
].join('\n');

// What a production install lacks stays a plain runtime require, failing (or not) exactly as it
// would unbundled: optional drivers knex names but afty does not install (pg, tedious, oracledb…),
// dev-only packages (typescript, which oclif looks for in development), and native addons, whose
// binary is found relative to their own package (better-sqlite3).
const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')).packages;
const leaveOut = {
  name: 'leave-out',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData?.resolving || args.path.startsWith('node:')) return undefined;
      const resolved = await build.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: { resolving: true },
      });
      if (resolved.errors.length > 0) return { path: args.path, external: true };
      const pkg = /^(.*[/\\]node_modules[/\\](?:@[^/\\]+[/\\])?[^/\\]+)[/\\]/.exec(resolved.path)?.[1];
      if (!pkg) return resolved;
      const installed = lock[path.relative(ROOT, pkg).split(path.sep).join('/')];
      const bundled = installed && !installed.dev && !existsSync(path.join(pkg, 'binding.gyp'));
      return bundled ? resolved : { path: args.path, external: true };
    });
  },
};

const result = await esbuild.build({
  stdin: { contents: entry, resolveDir: ROOT, sourcefile: 'afty-entry.cjs', loader: 'js' },
  outfile: path.join(DIST, 'afty.cjs'),
  write: false,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  plugins: [leaveOut],
  // Whitespace only: identifiers stay readable in --verbose stack traces; the code cache makes
  // parsing cheap anyway.
  minify: true,
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
  // Sources that are ESM use import.meta.url; in CommonJS the same URL is the bundle's own.
  define: { 'import.meta.url': '__aftyBundleUrl' },
  banner: { js: "const __aftyBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
});
if (result.errors.length > 0) process.exit(1);
writeFileSync(path.join(DIST, 'afty.cjs'), routeImports(result.outputFiles[0].text));

/** `import(…)` → `__aftyImport(…)`, found in the syntax tree (not in strings or comments). */
function routeImports(code) {
  const starts = [];
  const visit = (node) => {
    if (node.type === 'ImportExpression') starts.push(node.start);
    for (const value of Object.values(node)) {
      for (const child of Array.isArray(value) ? value : [value]) {
        if (child && typeof child.type === 'string') visit(child);
      }
    }
  };
  visit(parse(code, { ecmaVersion: 'latest', sourceType: 'script', allowReturnOutsideFunction: true }));
  let routed = '';
  let from = 0;
  for (const start of starts.sort((a, b) => a - b)) {
    routed += `${code.slice(from, start)}__aftyImport`;
    from = start + 'import'.length;
  }
  return routed + code.slice(from);
}

for (const id of ids) {
  const stub = path.join(DIST, 'commands', `${id}.js`);
  mkdirSync(path.dirname(stub), { recursive: true });
  const loader = path
    .relative(path.dirname(stub), path.join(ROOT, 'bin/bundle.js'))
    .split(path.sep)
    .join('/');
  writeFileSync(
    stub,
    `// Generated by scripts/bundle.mjs: the command is in dist/afty.cjs.\nimport { command } from '${loader}';\n\nexport default command(${JSON.stringify(id)});\n`,
  );
}
