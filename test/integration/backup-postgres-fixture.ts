import type { Knex } from 'knex';
import { createHash } from 'node:crypto';
import type { AftyContext } from '../../src/lib/context.js';
import type { TenantRecord } from '../../src/lib/registry/index.js';
import { createKnex } from '../../src/lib/servers/knex.js';
import { adminLocation, tenantLocation } from '../../src/lib/tenants/index.js';

/** Connects to the tenant's database (or schema) as the admin, or with `asTenant` as its own role. */
export async function withPgTenant<T>(
  ctx: AftyContext,
  tenant: TenantRecord,
  use: (db: Knex) => Promise<T>,
  asTenant = false,
): Promise<T> {
  const db = await createKnex(asTenant ? tenantLocation(ctx, tenant) : adminLocation(ctx, tenant));
  try {
    return await use(db);
  } finally {
    await db.destroy();
  }
}

/**
 * What a round trip must carry, created as the tenant's role as its migrations would: unicode,
 * bytea with every byte value, NULLs, a foreign key, a view, a PL/pgSQL trigger, knex's table.
 */
export async function seedPostgresTenant(db: Knex, rows = 50): Promise<void> {
  await db.schema.createTable('authors', (table) => {
    table.increments('id');
    table.string('name', 100).notNullable();
  });
  await db.schema.createTable('posts', (table) => {
    table.increments('id');
    table.integer('author_id').references('id').inTable('authors');
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
  await db('posts').insert(
    Array.from({ length: rows }, (_, index) => ({
      author_id: (index % 3) + 1,
      title: `Post ${index} — ünïcödé 🚀`,
      slug: `post-${index}`,
      body: index % 7 === 0 ? null : `line one\nline two\t'quote' ${index}`,
      attachment: index % 5 === 0 ? null : Buffer.concat([allBytes, Buffer.from([index % 256])]),
    })),
  );
  await db.raw(
    'CREATE VIEW post_titles AS SELECT p.id, p.title, a.name AS author FROM posts p JOIN authors a ON a.id = p.author_id',
  );
  await db.raw(
    `CREATE FUNCTION posts_slug() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN NEW.slug := COALESCE(NEW.slug, 'auto-' || NEW.title); RETURN NEW; END $$`,
  );
  await db.raw('CREATE TRIGGER posts_slug BEFORE INSERT ON posts FOR EACH ROW EXECUTE FUNCTION posts_slug()');
}

export interface PgFingerprint {
  /** Rows of each base table (count and sha256 in id order). */
  tables: Record<string, string>;
  /** `kind:name owner` of every relation, trigger and function in the schema. */
  objects: string[];
}

/** The contents and objects (with their owners) of the schema `db` works in. */
export async function pgFingerprint(db: Knex): Promise<PgFingerprint> {
  const { rows: relations } = (await db.raw(
    `SELECT c.relname AS name, c.relkind AS kind, pg_get_userbyid(c.relowner) AS owner
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v') ORDER BY c.relname`,
  )) as { rows: Array<{ name: string; kind: string; owner: string }> };
  const { rows: others } = (await db.raw(
    `SELECT 'trigger:' || t.tgname AS o FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND NOT t.tgisinternal
     UNION ALL SELECT 'function:' || p.proname || ' ' || pg_get_userbyid(p.proowner) FROM pg_proc p
       JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema()
     ORDER BY 1`,
  )) as { rows: Array<{ o: string }> };
  const tables: Record<string, string> = {};
  for (const { name } of relations.filter((relation) => relation.kind === 'r')) {
    const rows = (await db(name).select('*').orderBy('id')) as Array<Record<string, unknown>>;
    const hash = createHash('sha256');
    for (const row of rows) {
      hash.update(
        JSON.stringify(row, (_key, value: unknown) =>
          Buffer.isBuffer(value) ? value.toString('hex') : value,
        ),
      );
    }
    tables[name] = `${rows.length}:${hash.digest('hex')}`;
  }
  return {
    tables,
    objects: [
      ...relations.map(
        (relation) => `${relation.kind === 'v' ? 'view' : 'table'}:${relation.name} ${relation.owner}`,
      ),
      ...others.map((row) => row.o),
    ],
  };
}

/** Whether the trigger and the view still work: the slug the trigger fills in, the view's rows. */
export async function exercisePostgresObjects(db: Knex): Promise<{ slug: string; viewRows: number }> {
  const [{ id }] = (await db('posts').insert({ author_id: 1, title: 'fresh' }).returning('id')) as [
    { id: number },
  ];
  const row = (await db('posts').where('id', id).first('slug')) as { slug: string };
  const view = (await db('post_titles').count({ n: '*' })) as Array<{ n: number | string }>;
  await db('posts').where('id', id).delete();
  return { slug: row.slug, viewRows: Number(view[0]!.n) };
}
