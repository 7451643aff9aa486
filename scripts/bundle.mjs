// Bundles the commands with src/lib into dist/bundle/main.cjs, and each production package they
// import (@oclif/core, knex, zod, ioredis…) with its own dependencies into one file of its own,
// dist/bundle/<package>.cjs; tsc's dist/commands/**.js become two-line stubs that take their
// command from the bundle. Why: a command that touches the registry loaded ~650 files (oclif, knex
// and its lodash, zod…) and spent most of its start-up resolving, reading and compiling them.
// bin/bundle.js compiles each file with a V8 code cache, and loads a package's file only when the
// code first needs it, so a SQLite command never reads mysql2 or ioredis. CommonJS because only
// vm.Script takes a code cache on Node 20.
// Nothing here names a command or a package: every file under src/commands is an entry, every
// package src imports is a file, and lazy imports stay lazy (esbuild defers each module's
// initialisation until its first require or import()).
import { parse } from 'acorn';
import * as esbuild from 'esbuild';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.dirname(import.meta.dirname);
const COMMANDS = path.join(ROOT, 'src/commands');
const DIST = path.join(ROOT, 'dist');
const OUT = path.join(DIST, 'bundle');

const ids = readdirSync(COMMANDS, { recursive: true })
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
  .map((file) => file.slice(0, -3).split(path.sep).join('/'))
  .sort();

// Loaders, not modules: a command's code (and what it imports) is initialised when oclif asks for it.
const main = [
  "exports.execute = require('@oclif/core').execute;",
  'exports.commands = {',
  ...ids.map(
    (id) => `  ${JSON.stringify(id)}: () => require(${JSON.stringify(`./src/commands/${id}.ts`)}).default,`,
  ),
  '};',
].join('\n');

const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')).packages;
const packageOf = (file) => /^(.*[/\\]node_modules[/\\](?:@[^/\\]+[/\\])?[^/\\]+)[/\\]/.exec(file)?.[1];
const posix = (file) => file.split(path.sep).join('/');
const findUp = (dir, file) => {
  for (let at = dir; ; at = path.dirname(at)) {
    if (existsSync(path.join(at, 'node_modules', file))) return path.join(at, 'node_modules', file);
    if (path.dirname(at) === at) return undefined;
  }
};

const DEPENDENCIES = new Set(
  Object.keys(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).dependencies ?? {}).map(
    (name) => path.join(ROOT, 'node_modules', name),
  ),
);

/**
 * A UMD main (`factory(require, exports)`, e.g. jsonc-parser's) hides its requires from esbuild,
 * which then leaves them unresolved; such a package's "module" build (ESM) is bundled instead.
 */
function umdModule(pkg, file) {
  const manifest = JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8'));
  if (typeof manifest.module !== 'string' || path.resolve(pkg, manifest.main ?? 'index.js') !== file) return;
  return /\bdefine\.amd\b/.test(readFileSync(file, 'utf8')) ? path.resolve(pkg, manifest.module) : undefined;
}

/** The packages that get a file of their own, by the file they resolve to: dist/bundle/<name>.cjs. */
const packages = new Map();
function packageFile(file) {
  if (!packages.has(file)) {
    const name = posix(path.relative(ROOT, file))
      .replace(/^node_modules\//, '')
      .replace(/[^\w.@-]+/g, '+');
    packages.set(file, { name, shape: shapeOf(file) });
  }
  return packages.get(file);
}

/** Whether a package's entry is ESM, and its export names: what its stand-in in other files re-exports. */
async function shapeOf(file) {
  const { metafile, outputFiles } = await esbuild.build({
    entryPoints: [file],
    bundle: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const input = metafile.inputs[posix(path.relative(process.cwd(), file))];
  const output = Object.values(metafile.outputs).find((each) => each.entryPoint) ?? outputFiles[0];
  return { esm: input?.format === 'esm', exports: output.exports ?? [] };
}

/**
 * How a bare import is bundled. What a production install lacks stays a plain runtime require,
 * failing (or not) exactly as it would unbundled: optional drivers knex names but afty does not
 * install (pg, tedious, oracledb…) and dev-only packages (typescript, which oclif looks for in
 * development). Native addons are bundled only when they find their binary with `bindings`
 * (better-sqlite3): it looks in the folder of the file that calls it, the bundle's, so it is told
 * the package's folder instead. A package src imports is replaced by a stand-in that loads its file.
 */
function imports(entry) {
  return {
    name: 'imports',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData?.resolving || args.path.startsWith('node:')) return undefined;
        const addon = packageOf(args.importer);
        if (args.path === 'bindings' && addon) return { path: addon, namespace: 'bindings' };
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
        resolved.path = umdModule(pkg, resolved.path) ?? resolved.path;
        const installed = lock[posix(path.relative(ROOT, pkg))];
        const native = existsSync(path.join(pkg, 'binding.gyp'));
        const usesBindings = Object.hasOwn(installed?.dependencies ?? {}, 'bindings');
        if (!installed || installed.dev || (native && !usesBindings))
          return { path: args.path, external: true };
        // Its own file: a package src imports, or one afty depends on (knex needs mysql2 only for
        // MySQL), unless it is the file being built or its own package imports it.
        const own = !packageOf(args.importer) || (DEPENDENCIES.has(pkg) && packageOf(args.importer) !== pkg);
        return own && resolved.path !== entry ? { path: resolved.path, namespace: 'package' } : resolved;
      });
      // The stand-in: ESM packages keep ESM semantics (a default export is the package's own), so
      // esbuild's interop treats them as it would bundled; CommonJS ones are their module.exports.
      build.onLoad({ filter: /.*/, namespace: 'package' }, async (args) => {
        const { name, shape } = packageFile(args.path);
        const { esm, exports } = await shape;
        const load = `__aftyRequire(${JSON.stringify(name)})`;
        if (!esm) return { contents: `module.exports = ${load};`, loader: 'js' };
        const names = exports.map((each, index) => [`e${index}`, each]);
        return {
          contents: [
            `const m = ${load};`,
            ...names.map(([local, each]) => `const ${local} = m[${JSON.stringify(each)}];`),
            `export { ${names.map(([local, each]) => `${local} as ${JSON.stringify(each)}`).join(', ')} };`,
          ].join('\n'),
          loader: 'js',
        };
      });
      build.onLoad({ filter: /.*/, namespace: 'bindings' }, (args) => ({
        contents: `const bindings = require('bindings');\nmodule.exports = (name) => bindings({ bindings: name, module_root: require('node:path').join(__dirname, ${JSON.stringify(posix(path.relative(OUT, args.path)))}) });\n`,
        resolveDir: args.path,
        pluginData: { resolving: true },
      }));
    },
  };
}

async function bundle(name, input, entry, keepNames = false) {
  const result = await esbuild.build({
    ...input,
    metafile: true,
    outfile: path.join(OUT, `${name}.cjs`),
    write: false,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    plugins: [imports(entry)],
    minify: true,
    keepNames,
    legalComments: 'none',
    logLevel: 'warning',
    // Sources that are ESM use import.meta.url; in CommonJS the same URL is the file's own.
    define: { 'import.meta.url': '__aftyFileUrl' },
    // Each file is one function expression, called by bin/bundle.js with what Node gives a
    // CommonJS module, plus stand-ins for import() and for loading another of these files.
    banner: {
      js: "(function (exports, require, module, __filename, __dirname, __aftyImport, __aftyRequire) {\nconst __aftyFileUrl = require('node:url').pathToFileURL(__filename).href;",
    },
    footer: { js: '})' },
  });
  // Minified names are what code reading constructor.name sees: a file whose code does keeps its
  // names (ioredis's error names), unless the reading is known not to matter to afty. Keeping
  // names everywhere cost ~30 ms of start-up (a defineProperty call for every function).
  if (!keepNames && Object.keys(result.metafile.inputs).some(readsNames))
    return bundle(name, input, entry, true);
  writeFileSync(path.join(OUT, `${name}.cjs`), rewrite(result.outputFiles[0].text));
}

// Packages whose code reads constructor names only where that does not reach afty's behaviour.
const NAMES_UNUSED = {
  // The id of a command class run without one; oclif gives every command its manifest id first.
  '@oclif/core': 'lib/command.js',
  // Encode errors (afty only parses), whether a function is async (a built-in's name), and the
  // type name of a class instance in an error message: classes defined in the bundle never reach
  // a schema (the config is JSON or the user's own module).
  zod: 'v4/core/util.js v4/core/schemas.js v4/classic/schemas.js v4/core/compile.js',
};

function readsNames(input) {
  const file = path.resolve(input);
  const pkg = packageOf(file);
  const known = pkg && NAMES_UNUSED[posix(path.relative(path.join(ROOT, 'node_modules'), pkg))];
  if (known?.split(' ').includes(posix(path.relative(pkg, file)))) return false;
  return existsSync(file) && /\b(?:constructor|new\.target)\.name\b/.test(readFileSync(file, 'utf8'));
}

/**
 * Two edits, made in the syntax tree. `import(…)` → `__aftyImport(…)`: on Node 20, code restored
 * from a cache loses vm's import() hook. And the non-ASCII characters esbuild leaves in regular
 * expressions are escaped, so each file is ASCII and bin/bundle.js can read it as latin1 (several
 * times faster to decode than UTF-8).
 */
function rewrite(code) {
  const edits = [];
  const visit = (node) => {
    if (node.type === 'ImportExpression') {
      edits.push({ start: node.start, end: node.start + 'import'.length, text: '__aftyImport' });
    }
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
  if (other) {
    throw new Error(
      `non-ASCII character left in the bundle: ${rewritten.slice(other.index - 40, other.index + 20)}`,
    );
  }
  return rewritten;
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
await bundle('main', {
  stdin: { contents: main, resolveDir: ROOT, sourcefile: 'afty-main.cjs', loader: 'js' },
});
// Packages found while bundling one (knex requiring mysql2) join the queue.
for (const built = new Set(); built.size < packages.size;) {
  for (const [file, { name }] of [...packages].filter(([file]) => !built.has(file))) {
    built.add(file);
    await bundle(name, { entryPoints: [file] }, file);
  }
}

for (const id of ids) {
  const stub = path.join(DIST, 'commands', `${id}.js`);
  mkdirSync(path.dirname(stub), { recursive: true });
  const loader = posix(path.relative(path.dirname(stub), path.join(ROOT, 'bin/bundle.js')));
  writeFileSync(
    stub,
    `// Generated by scripts/bundle.mjs: the command is in dist/bundle/main.cjs.\nimport { command } from '${loader}';\n\nexport default command(${JSON.stringify(id)});\n`,
  );
}
