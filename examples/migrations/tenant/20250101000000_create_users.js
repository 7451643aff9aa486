// ESM migration (the project is "type": "module"): export up and down.
export async function up(knex) {
  await knex.schema.createTable('users', (table) => {
    table.increments('id');
    table.string('email', 191).notNullable().unique();
    table.string('name', 120).notNullable();
    table.timestamps(true, true);
  });
}

export async function down(knex) {
  await knex.schema.dropTable('users');
}
