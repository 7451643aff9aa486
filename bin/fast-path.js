// Answers `afty --version` and the help of the root and of topics without importing @oclif/core,
// whose import alone costs about twice a bare `node -e 0`. The output must be byte-identical to
// what @oclif/core 4 (with @oclif/plugin-help 6) prints for the same argv, environment and width,
// so this reads the same files oclif reads (package.json, oclif.manifest.json, the core plugins')
// and repeats its layout and wrapping. Whenever anything could make oclif print something else
// (colour, themes, user plugins, hooks, aliases, templates, unusual characters, debug output, WSL,
// another release of @oclif/core or @oclif/plugin-help than MIRRORED) it returns undefined and
// oclif answers. test/cli/startup.test.ts compares the two paths.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.dirname(import.meta.dirname);

// package.json "oclif" settings reproduced here (hooks: only the harmless ones below); any other
// one (helpClass, theme, state, additionalHelpFlags…) changes what oclif prints or runs, so it
// sends everything to oclif.
const KNOWN_SETTINGS = new Set([
  'bin',
  'dirname',
  'commands',
  'topicSeparator',
  'plugins',
  'topics',
  'hooks',
]);
// Hooks that never run for --version or help; any other (init, prerun, finally…) might print.
const HARMLESS_HOOKS = new Set([
  'command_not_found',
  'plugins:preinstall',
  'plugins:postinstall',
  'plugins:postuninstall',
]);
// Characters whose width, trimming and Unicode normalisation the wrapping below gets right
// (string-width counts each as one column; none is whitespace or changed by NFC).
const PLAIN = /^[\x20-\x7e\n–—‘’“”…→✓✗·]*$/;
// Topic and command names as typed; anything else (flags, `a:b`, `x=y`) is left to oclif.
const WORD = /^[a-z0-9][\w-]*$/i;

// The releases whose output this file reproduces (the layout of @oclif/core's Help and
// userAgent, plugin-help's help command). Update them only after test/cli/startup.test.ts passes
// against the new ones.
export const MIRRORED = { '@oclif/core': '4.14.0', '@oclif/plugin-help': '6.3.0' };

class Unsupported extends Error {}
function need(condition) {
  if (!condition) throw new Unsupported();
}

/** What oclif would print on stdout (exit code 0, nothing on stderr), or undefined to let it answer. */
export function fastOutput(argv) {
  const request = parseArgv(argv);
  if (!request) return undefined;
  try {
    const config = loadConfig(request.kind === 'help');
    if (request.kind === 'version') return `${userAgent(config.pjson)}\n`;
    return request.subject ? topicHelp(config, request) : rootHelp(config, request);
  } catch {
    return undefined; // Unsupported, or anything unexpected: oclif knows best
  }
}

function parseArgv(argv) {
  if (argv.length === 1 && argv[0] === '--version') return { kind: 'version' };
  // `afty help [TOPIC…]` runs @oclif/plugin-help's command; `afty [TOPIC…] [--help]` and bare
  // `afty` are handled by oclif's main. All end in the same Help.showHelp.
  const viaCommand = argv[0] === 'help';
  const words = viaCommand ? argv.slice(1) : argv.at(-1) === '--help' ? argv.slice(0, -1) : argv;
  if (!words.every((word) => WORD.test(word))) return undefined;
  return { kind: 'help', viaCommand, subject: words.join(':') };
}

/**
 * The package `name` as oclif's findRoot finds it through require(): the node_modules part of
 * that (a package found only through NODE_PATH or Yarn PnP is left to oclif).
 */
function installed(name) {
  let root = ROOT;
  while (!existsSync(path.join(root, 'node_modules', name, 'package.json'))) {
    need(path.dirname(root) !== root);
    root = path.dirname(root);
  }
  root = path.join(root, 'node_modules', name);
  return { root, pjson: readJson(path.join(root, 'package.json')) };
}

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

function loadConfig(withCommands) {
  const { env } = process;
  // DEBUG turns on oclif's debug output; OCLIF_NEXT_VERSION and __IS_WSL_TEST__ change what it
  // accepts or reports; Windows has its own config folders; oclif warns if the cwd is gone.
  need(!env.DEBUG && !env.OCLIF_NEXT_VERSION && !env.__IS_WSL_TEST__ && process.platform !== 'win32');
  process.cwd();
  const pjson = readJson(path.join(ROOT, 'package.json'));
  const { oclif } = pjson;
  need(oclif && Object.keys(oclif).every((key) => KNOWN_SETTINGS.has(key)));
  need(typeof oclif.commands === 'string' && oclif.topicSeparator === ' ');
  const bin = oclif.bin || pjson.name;
  need(/^[\w-]+$/.test(bin));
  const scoped = (key) => env[`${bin.replaceAll('-', '_')}_${key}`.toUpperCase()];
  need(!scoped('DEBUG'));
  // User-installed plugins (the data folder's package.json) and colour themes are oclif's to load.
  const home = env.HOME || os.homedir() || os.tmpdir();
  const folder = (category, base) =>
    scoped(`${category.toUpperCase()}_DIR`) ||
    path.join(
      env[`XDG_${category.toUpperCase()}_HOME`] || path.join(home, base),
      oclif.dirname || pjson.name,
    );
  need(!existsSync(path.join(folder('data', '.local/share'), 'package.json')));
  need(!existsSync(path.join(folder('config', '.config'), 'theme.json')));

  const plugins = [{ root: ROOT, pjson }];
  const patterns = oclif.plugins ?? [];
  need(patterns.every((pattern) => !/[*?[\]{}()!\\]/.test(pattern))); // no globs: names match exactly
  need(!process.versions.pnp);
  for (const name of Object.keys(pjson.dependencies ?? {}).filter((dep) => patterns.includes(dep))) {
    const { root, pjson: plugin } = installed(name);
    need(plugin.oclif && !plugin.oclif.plugins && plugin.name === name);
    plugins.push({ root, pjson: plugin });
  }
  // What is printed is what these versions print: another one is oclif's to answer.
  for (const [name, version] of Object.entries(MIRRORED)) need(installed(name).pjson.version === version);
  need(
    plugins.every(({ pjson }) => Object.keys(pjson.oclif.hooks ?? {}).every((e) => HARMLESS_HOOKS.has(e))),
  );
  if (!withCommands) return { pjson };

  const commands = new Map();
  const commandLike = new Set(); // every name oclif would resolve to a command
  for (const plugin of plugins) {
    const manifest = readJson(path.join(plugin.root, 'oclif.manifest.json'));
    // oclif ignores a manifest from another version and loads every command instead.
    need(manifest.version.split('-')[0] === plugin.pjson.version.split('-')[0]);
    plugin.manifest = manifest;
    for (const [id, command] of Object.entries(manifest.commands)) {
      need(command.id === id && !commands.has(id) && command.pluginType !== 'jit');
      need(!command.aliases?.length && !command.hiddenAliases?.length);
      commands.set(id, command);
      for (const name of [id, ...(command.permutations ?? []), ...(command.aliasPermutations ?? [])]) {
        commandLike.add(name);
      }
    }
  }
  // Topics as oclif's Config.loadTopics builds them: declared ones, then every prefix of a
  // visible command's id (those get a command's summary as description: left to oclif).
  const topics = new Map();
  for (const plugin of plugins) {
    const declared = plugin.pjson.oclif.topics ?? {};
    need(!Array.isArray(declared));
    for (const [name, topic] of Object.entries(declared)) {
      need(!topics.has(name) && !topic.subtopics);
      topics.set(name, { name, description: topic.description, hidden: topic.hidden, declared: true });
    }
  }
  for (const command of commands.values()) {
    if (command.hidden) continue;
    const parts = command.id.split(':');
    for (let n = parts.length; n > 0; n -= 1) {
      const name = parts.slice(0, n).join(':');
      if (!topics.has(name)) topics.set(name, { name, declared: false });
    }
  }
  // oclif's Help lists only topics with something below them, and nothing hidden, sorted by name.
  const names = [...topics.keys()];
  const sortedTopics = [...topics.values()]
    .filter((topic) => names.some((name) => name.includes(`${topic.name}:`)) && !topic.hidden)
    .sort((a, b) => compare(a.name, b.name));
  const sortedCommands = [...commands.values()]
    .filter((command) => !command.hidden)
    .sort((a, b) => compare(a.id, b.id));
  const helpCommand = plugins.find((plugin) => plugin.pjson.name === '@oclif/plugin-help')?.manifest.commands
    .help;
  return { pjson, bin, plugins, commandLike, topics, sortedTopics, sortedCommands, helpCommand };
}

function compare(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

function userAgent(pjson) {
  // oclif reports WSL as platform "wsl" (is-wsl); rather than repeat its checks, leave WSL to it.
  if (process.platform === 'linux') {
    need(!os.release().toLowerCase().includes('microsoft'));
    need(!readFileSync('/proc/version', 'utf8').toLowerCase().includes('microsoft'));
    need(!existsSync('/proc/sys/fs/binfmt_misc/WSLInterop') && !existsSync('/run/WSL'));
  }
  const arch = os.arch() === 'ia32' ? 'x86' : os.arch();
  return `${pjson.name}/${pjson.version || '0.0.0'} ${process.platform}-${arch} node-${process.version}`;
}

// oclif renders every text as an EJS template; the only tag met in practice is the bin name
// (plugin-help's "Display help for <%= config.bin %>.").
function render(config, text) {
  const rendered = text.replaceAll('<%= config.bin %>', config.bin);
  need(!rendered.includes('<%') && !rendered.includes('%>') && PLAIN.test(rendered));
  return rendered;
}

function rootHelp(config, { viaCommand }) {
  need(!viaCommand || config.helpCommand);
  const layout = helpLayout(config);
  const [title, ...more] = render(config, config.pjson.description || '').split('\n');
  const description = more.join('\n');
  const root = [
    title,
    layout.section('VERSION', layout.wrap(userAgent(config.pjson))),
    layout.section('USAGE', layout.wrap(`$ ${config.bin} [COMMAND]`)),
    description && layout.section('DESCRIPTION', layout.wrap(description)),
  ];
  let output = `${root.filter(Boolean).join('\n\n')}\n\n`;
  const topics = config.sortedTopics.filter((topic) => !topic.name.includes(':'));
  const commands = config.sortedCommands.filter((command) => !command.id.includes(':'));
  if (topics.length > 0) output += `${layout.topics(topics)}\n\n`;
  if (commands.length > 0) output += `${layout.commands(commands)}\n\n`;
  return finish(output);
}

function topicHelp(config, { subject, viaCommand }) {
  need(!viaCommand || config.helpCommand);
  // oclif shows a command's help if the name (or a prefix of it, for spaced ids) is a command.
  const parts = subject.split(':');
  need(parts.every((_, n) => !config.commandLike.has(parts.slice(0, n + 1).join(':'))));
  const topic = config.topics.get(subject);
  need(topic?.declared && topic.description && !topic.hidden);
  const layout = helpLayout(config);
  const [summary, ...more] = render(config, topic.description).split('\n');
  const description = more.join('\n');
  const head = [
    summary,
    layout.section('USAGE', `$ ${config.bin} ${subject.replaceAll(':', ' ')} COMMAND`),
    description && layout.section('DESCRIPTION', layout.wrap(description)),
  ];
  let output = `${head.filter(Boolean).join('\n\n')}\n\n`;
  const below = (name) => name.startsWith(`${subject}:`) && name.split(':').length === parts.length + 1;
  const topics = config.sortedTopics.filter((sub) => below(sub.name));
  const commands = config.sortedCommands.filter((command) => below(command.id));
  if (topics.length > 0) output += `${layout.topics(topics)}\n\n`;
  if (commands.length > 0) output += `${layout.commands(commands)}\n\n`;
  return finish(output);
}

function finish(output) {
  // oclif prints through util.format, which would rewrite `%%` and friends.
  need(PLAIN.test(output) && !output.includes('%'));
  return output;
}

// oclif's HelpFormatter (section, renderList, wrap, indent) for plain text, no colour.
function helpLayout(config) {
  const { env } = process;
  // Colour goes on only when both stdout and stderr are terminals (or FORCE_COLOR says so).
  need(!('FORCE_COLOR' in env) && !(process.stdout.isTTY && process.stderr.isTTY));
  // @oclif/core's screen.js: OCLIF_COLUMNS, else the terminal's width, else 80.
  let maxWidth = Number.parseInt(env.OCLIF_COLUMNS, 10);
  if (!maxWidth) {
    const columns = process.stdout.isTTY ? process.stdout.getWindowSize()[0] : 80;
    maxWidth = columns < 1 ? 80 : Math.max(columns, 40);
  }
  need(maxWidth >= 40); // narrower layouts are oclif's to get right
  const wrap = (body, spacing = 2) => wrapText(body, maxWidth - spacing);
  const indent = (body, spacing) => body.replace(/^(?!\s*$)/gm, ' '.repeat(spacing));
  const section = (header, body) => `${header}\n${indent(body, 2)}`;

  function renderList(rows) {
    const widest = Math.max(...rows.map(([left]) => left.length));
    let output = '';
    let current = '';
    for (const [left, right] of rows) {
      if (current) output += `\n${current}`;
      current = left;
      if (!right) {
        current = current.trim();
        continue;
      }
      const [first, ...lines] = wrap(right.trim(), 2 + widest + 2)
        .split('\n')
        .map((line) => line.trim());
      current += ' '.repeat(widest - current.length + 2) + first;
      if (lines.length === 0) continue;
      // A description wrapping to more than five lines switches the whole list to this layout.
      if (lines.length > 4) return renderMultiline(rows);
      current += `\n${indent(lines.join('\n'), widest + 2)}`;
    }
    if (current) output += `\n${current}`;
    return output.trim();
  }
  function renderMultiline(rows) {
    let output = '';
    for (const [left, right] of rows) {
      if (!left && !right) continue;
      if (left) output += wrap(left.trim(), 2);
      if (right) output += `\n${indent(wrap(right.trim(), 4), 4)}`;
      output += '\n\n';
    }
    return output.trim();
  }
  const summary = (command) =>
    command.summary
      ? render(config, command.summary.split('\n')[0])
      : command.description && render(config, command.description).split('\n')[0];
  const topicSummary = (topic) => {
    need(topic.declared); // undeclared ones take a command's summary, in an order oclif does not fix
    return topic.description && render(config, topic.description.split('\n')[0]);
  };
  const list = (header, rows) => section(header, renderList(rows));

  return {
    wrap,
    section,
    topics: (topics) =>
      list(
        'TOPICS',
        topics.map((topic) => [topic.name.replaceAll(':', ' '), topicSummary(topic)]),
      ),
    commands: (commands) =>
      list(
        'COMMANDS',
        commands.map((command) => [command.id.replaceAll(':', ' '), summary(command)]),
      ),
  };
}

// wrap-ansi 7 with { hard: true }, as oclif calls it, for text of one column per character.
export function wrapText(text, columns) {
  return text
    .split('\n')
    .map((line) => wrapLine(line, columns))
    .join('\n');
}

function wrapLine(line, columns) {
  if (line.trim() === '') return '';
  const rows = [''];
  for (const [index, word] of line.split(' ').entries()) {
    rows[rows.length - 1] = rows.at(-1).trimStart();
    let rowLength = rows.at(-1).length;
    if (index !== 0 && rowLength > 0) {
      rows[rows.length - 1] += ' ';
      rowLength += 1;
    }
    if (word.length > columns) {
      // A word longer than a line is cut; it starts on a new row if that saves a cut.
      const cutsHere = 1 + Math.floor((word.length - (columns - rowLength) - 1) / columns);
      const cutsOnNextRow = Math.floor((word.length - 1) / columns);
      if (cutsOnNextRow < cutsHere) rows.push('');
      cutWord(rows, word, columns);
      continue;
    }
    if (rowLength + word.length > columns && rowLength > 0 && word.length > 0) rows.push('');
    rows[rows.length - 1] += word;
  }
  return rows.map((row) => row.replace(/ +$/, '')).join('\n');
}

function cutWord(rows, word, columns) {
  let visible = rows.at(-1).length;
  const characters = [...word];
  for (const [index, character] of characters.entries()) {
    if (visible + 1 <= columns) {
      rows[rows.length - 1] += character;
    } else {
      rows.push(character);
      visible = 0;
    }
    visible += 1;
    if (visible === columns && index < characters.length - 1) {
      rows.push('');
      visible = 0;
    }
  }
}
