import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../support/cli.js';

interface ManifestCommand {
  flags: Record<string, unknown>;
  args: Record<string, unknown>;
  summary?: string;
}

function commandFiles(dir: string, prefix: string[] = []): Array<{ id: string; file: string }> {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return commandFiles(file, [...prefix, name]);
    if (!name.endsWith('.ts') || name.endsWith('.d.ts')) return [];
    const base = name.slice(0, -3);
    return [{ id: [...prefix, ...(base === 'index' ? [] : [base])].join(':'), file }];
  });
}

describe('oclif.manifest.json', () => {
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
    commands: Record<string, ManifestCommand>;
  };
  const files = commandFiles(path.join(ROOT, 'src/commands'));

  it('lists commands (a manifest written before the build has none)', () => {
    assert.ok(
      Object.keys(manifest.commands).length >= files.length && files.length > 0,
      'Object.keys(manifest.commands).length >= files.length && files.length > 0',
    );
  });

  it('lists exactly the commands in src/commands, with their current flags and args', async () => {
    assert.deepEqual(Object.keys(manifest.commands).sort(), files.map((entry) => entry.id).sort());
    for (const { id, file } of files) {
      const { default: command } = (await import(pathToFileURL(file).href)) as {
        default: {
          flags?: object;
          baseFlags?: object;
          args?: object;
          summary?: string;
          enableJsonFlag?: boolean;
        };
      };
      const flags = [
        ...Object.keys({ ...command.baseFlags, ...command.flags }),
        ...(command.enableJsonFlag ? ['json'] : []),
      ];
      assert.deepEqual(
        Object.keys(manifest.commands[id]!.flags).sort(),
        flags.sort(),
        `flags of ${id} (rebuild: npm run build)`,
      );
      assert.deepEqual(
        Object.keys(manifest.commands[id]!.args).sort(),
        Object.keys(command.args ?? {}).sort(),
        `args of ${id}`,
      );
      assert.equal(manifest.commands[id]!.summary, command.summary, `summary of ${id}`);
    }
  });
});
