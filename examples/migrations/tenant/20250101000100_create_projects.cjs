// CommonJS migration: module.exports works as well as ESM exports.
module.exports = {
  async up(knex) {
    await knex.schema.createTable('projects', (table) => {
      table.increments('id');
      table
        .integer('owner_id')
        .unsigned()
        .notNullable()
        .references('id')
        .inTable('users')
        .onDelete('CASCADE');
      table.string('title', 200).notNullable();
      table.index(['owner_id', 'title']);
    });
  },
  async down(knex) {
    await knex.schema.dropTable('projects');
  },
};
