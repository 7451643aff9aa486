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
// would unbundled: optional drivers knex names but afty does not install (pg, tedious, oracledb…)
// and dev-only packages (typescript, which oclif looks for in development). Native addons are
// bundled only when they find their binary with `bindings` (better-sqlite3): it looks in the folder
// of the file that calls it, which is the bundle's, so it is told the package's folder instead.
const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')).packages;
const packageOf = (file) => /^(.*[/\\]node_modules[/\\](?:@[^/\\]+[/\\])?[^/\\]+)[/\\]/.exec(file)?.[1];
const findUp = (dir, file) => {
  for (let at = dir; ; at = path.dirname(at)) {
    if (existsSync(path.join(at, 'node_modules', file))) return path.join(at, 'node_modules', file);
    if (path.dirname(at) === at) return undefined;
  }
};
const leaveOut = {
  name: 'leave-out',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData?.resolving || args.path.startsWith('node:')) return undefined;
      const addon = packageOf(args.importer);
      if (args.path === 'bindings' && addon) {
        return { path: addon, namespace: 'bindings', pluginData: { resolveDir: args.resolveDir } };
      }
      const resolved = await build.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: { resolving: true },
      });
      if (resolved.errors.length > 0) {
        // A package's own package.json (oclif reads its version from it) even when its exports hide it.
        const manifest =
          /^(?:@[^/]+\/)?[^/]+\/package\.json$/.test(args.path) && findUp(args.resolveDir, args.path);
        return manifest ? { path: manifest } : { path: args.path, external: true };
      }
      const pkg = packageOf(resolved.path);
      if (!pkg) return resolved;
      const installed = lock[path.relative(ROOT, pkg).split(path.sep).join('/')];
      const native = existsSync(path.join(pkg, 'binding.gyp'));
      const usesBindings = Object.hasOwn(installed?.dependencies ?? {}, 'bindings');
      return installed && !installed.dev && (!native || usesBindings)
        ? resolved
        : { path: args.path, external: true };
    });
    build.onLoad({ filter: /.*/, namespace: 'bindings' }, (args) => ({
      contents: `const bindings = require('bindings');\nmodule.exports = (name) => bindings({ bindings: name, module_root: require('node:path').join(__dirname, ${JSON.stringify(path.relative(DIST, args.path).split(path.sep).join('/'))}) });\n`,
      resolveDir: args.pluginData.resolveDir,
      pluginData: { resolving: true },
    }));
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
  // The file is one function expression, called by bin/bundle.js with what Node gives a CommonJS
  // module, plus the import() stand-in.
  banner: {
    js: "(function (exports, require, module, __filename, __dirname, __aftyImport) {\nconst __aftyBundleUrl = require('node:url').pathToFileURL(__filename).href;",
  },
  footer: { js: '})' },
});
if (result.errors.length > 0) process.exit(1);
writeFileSync(path.join(DIST, 'afty.cjs'), rewrite(result.outputFiles[0].text));

/**
 * Two edits, made in the syntax tree: `import(…)` → `__aftyImport(…)`, and the non-ASCII
 * characters esbuild leaves in regular expressions escaped, so the bundle is ASCII and
 * bin/bundle.js can read it as latin1 (several times faster to decode than UTF-8).
 */
function rewrite(code) {
  const edits = [];
  const visit = (node) => {
    if (node.type === 'ImportExpression')
      edits.push({ start: node.start, end: node.start + 6, text: '__aftyImport' });
    if (node.regex && /[\u0080-\uffff]/.test(node.raw)) {
      const text = node.raw.replace(
        /[\u0080-\uffff]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
      );
      edits.push({ start: node.start, end: node.end, text });
    }
    for (const value of Object.values(node)) {
      for (const child of Array.isArray(value) ? value : [value]) {
        if (child && typeof child.type === 'string') visit(child);
      }
    }
  };
  visit(parse(code, { ecmaVersion: 'latest', sourceType: 'script' }));
  let rewritten = '';
  let from = 0;
  for (const edit of edits.sort((a, b) => a.start - b.start)) {
    rewritten += code.slice(from, edit.start) + edit.text;
    from = edit.end;
  }
  rewritten += code.slice(from);
  const other = /[\u0080-\uffff]/.exec(rewritten);
  if (other)
    throw new Error(
      `non-ASCII character left in the bundle: ${rewritten.slice(other.index - 40, other.index + 20)}`,
    );
  return rewritten;
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
