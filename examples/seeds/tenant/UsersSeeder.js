export async function seed(knex) {
  await knex('users').del();
  await knex('users').insert([
    { email: 'ada@example.com', name: 'Ada' },
    { email: 'grace@example.com', name: 'Grace' },
  ]);
}
