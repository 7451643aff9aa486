export async function up(knex) {
  await knex.schema.createTable('tasks', (table) => {
    table.increments('id');
    table
      .integer('project_id')
      .unsigned()
      .notNullable()
      .references('id')
      .inTable('projects')
      .onDelete('CASCADE');
    table.string('title', 200).notNullable();
    table.boolean('done').notNullable().defaultTo(false);
    table.index(['project_id', 'done']);
  });
}

export async function down(knex) {
  await knex.schema.dropTable('tasks');
}
