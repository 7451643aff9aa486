import type { Knex } from 'knex';
import { createHash } from 'node:crypto';
import type { AftyContext } from '../../src/lib/context.js';
import type { TenantRecord } from '../../src/lib/registry/index.js';
import { createKnex } from '../../src/lib/servers/knex.js';
import { adminLocation } from '../../src/lib/tenants/index.js';

/** Connects to the tenant's database as the server admin; destroyed after `use`. */
export async function withTenantDb<T>(
  ctx: AftyContext,
  tenant: TenantRecord,
  use: (db: Knex) => Promise<T>,
): Promise<T> {
  const db = await createKnex(adminLocation(ctx, tenant), { multipleStatements: true });
  try {
    return await use(db);
  } finally {
    await db.destroy();
  }
}

/**
 * Real data the round trip must carry: unicode, binary BLOBs (every byte value), NULLs, a
 * foreign key, a view, a trigger, knex's migration table and (MySQL) a procedure.
 */
export async function seedTenant(db: Knex, driver: 'mysql' | 'sqlite', rows = 50): Promise<void> {
  await db.schema.createTable('authors', (table) => {
    table.increments('id');
    table.string('name', 100).notNullable();
  });
  await db.schema.createTable('posts', (table) => {
    table.increments('id');
    table.integer('author_id').unsigned().references('id').inTable('authors');
    table.string('title', 200).notNullable();
    table.string('slug', 200);
    table.text('body');
    table.binary('attachment');
  });
  await db.schema.createTable('knex_migrations', (table) => {
    table.increments('id');
    table.string('name');
    table.integer('batch');
    table.timestamp('migration_time');
  });
  await db('knex_migrations').insert([
    { name: '20240101000000_authors.js', batch: 1 },
    { name: '20240102000000_posts.js', batch: 1 },
  ]);
  await db('authors').insert([
    { name: 'Zoë Ångström' },
    { name: '山田 太郎' },
    { name: 'O\'Brien \\ "quoted"' },
  ]);
  const allBytes = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
  const posts = Array.from({ length: rows }, (_, index) => ({
    author_id: (index % 3) + 1,
    title: `Post ${index} — ünïcödé 🚀 ${'ß'.repeat(index % 5)}`,
    slug: `post-${index}`,
    body: index % 7 === 0 ? null : `line one\nline two\t'quote' ${index}`,
    attachment: index % 5 === 0 ? null : Buffer.concat([allBytes, Buffer.from([index % 256])]),
  }));
  for (let start = 0; start < posts.length; start += 200) {
    await db('posts').insert(posts.slice(start, start + 200));
  }
  await db.raw(
    'CREATE VIEW ?? AS SELECT p.id, p.title, a.name AS author FROM posts p JOIN authors a ON a.id = p.author_id',
    ['post_titles'],
  );
  if (driver === 'mysql') {
    await db.raw(
      "CREATE TRIGGER posts_slug BEFORE INSERT ON posts FOR EACH ROW SET NEW.slug = COALESCE(NEW.slug, CONCAT('auto-', NEW.title))",
    );
    await db.raw('CREATE PROCEDURE count_posts() SELECT COUNT(*) AS posts FROM posts');
  } else {
    await db.raw(
      "CREATE TRIGGER posts_slug AFTER INSERT ON posts FOR EACH ROW WHEN NEW.slug IS NULL BEGIN UPDATE posts SET slug = 'auto-' || NEW.title WHERE id = NEW.id; END",
    );
  }
}

/** sha256 of every base table's rows in primary-key order: equal hashes mean equal contents. */
export async function tableChecksums(db: Knex, driver: 'mysql' | 'sqlite'): Promise<Record<string, string>> {
  const tables =
    driver === 'mysql'
      ? ((
          await db.raw(
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name",
          )
        )[0] as Array<{ name: string }>)
      : ((await db.raw(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )) as Array<{ name: string }>);
  const sums: Record<string, string> = {};
  for (const { name } of tables) {
    const rows = (await db(name).select('*').orderBy('id')) as Array<Record<string, unknown>>;
    const hash = createHash('sha256');
    for (const row of rows) {
      hash.update(
        JSON.stringify(row, (_key, value: unknown) =>
          value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer'
            ? Buffer.from((value as { data: number[] }).data).toString('hex')
            : value,
        ),
      );
    }
    sums[name] = `${rows.length}:${hash.digest('hex')}`;
  }
  return sums;
}

/** Whether the trigger and the view still work after a restore. */
export async function exerciseObjects(db: Knex): Promise<{ slug: string; viewRows: number }> {
  const [id] = await db('posts').insert({ author_id: 1, title: 'fresh' });
  const row = (await db('posts').where('id', id).first('slug')) as { slug: string };
  const view = (await db('post_titles').count({ n: '*' })) as Array<{ n: number | string }>;
  await db('posts').where('id', id).delete();
  return { slug: row.slug, viewRows: Number(view[0]!.n) };
}
