export async function up(knex) {
  await knex.schema.alterTable('users', (table) => {
    table.timestamp('last_login_at').nullable();
  });
}

export async function down(knex) {
  await knex.schema.alterTable('users', (table) => {
    table.dropColumn('last_login_at');
  });
}
