// CommonJS seeder.
module.exports = {
  async seed(knex) {
    const owner = await knex('users').orderBy('id').first('id');
    if (!owner) throw new Error('run UsersSeeder first');
    await knex('projects').insert([
      { owner_id: owner.id, title: 'Launch' },
      { owner_id: owner.id, title: 'Roadmap' },
    ]);
  },
};
