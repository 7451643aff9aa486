// The default seeder (runs when no --class is given): calls the others in order.
import { seed as seedUsers } from './UsersSeeder.js';
import projects from './ProjectsSeeder.cjs';

export async function seed(knex) {
  await seedUsers(knex);
  await projects.seed(knex);
}
