import { BaseCommand } from '../../lib/ui/base-command.js';
import type { ServerSummary } from '../../lib/tenants/balance.js';

export default class ServersList extends BaseCommand<typeof ServersList> {
  static summary = 'List the tenant servers: tenants, total size, connections in use, version';
  static description =
    "One row per configured server: its engine and URL (without password), the number of tenants the registry places there, the total size of their databases (data and indexes), connections in use against max_connections (MySQL/MariaDB; SQLite has none), and the server's version. A server that cannot be reached is listed with the reason, and the command exits 3.";
  static examples = ['<%= config.bin %> servers list', '<%= config.bin %> servers list --json'];

  async run(): Promise<{ servers: ServerSummary[] }> {
    const [{ readPlacement }, ui, { ExitCode }] = await Promise.all([
      import('../../lib/tenants/balance.js'),
      import('../../lib/ui/output.js'),
      import('../../lib/errors.js'),
    ]);
    const { servers } = await readPlacement(await this.context());
    if (!this.jsonEnabled()) {
      this.log(
        await ui.renderTable({
          columns: [
            { header: 'server', kind: 'id' },
            { header: 'engine', kind: 'id' },
            { header: 'tenants', kind: 'id' },
            { header: 'size', kind: 'id' },
            { header: 'connections', kind: 'id' },
            { header: 'version', kind: 'text' },
            { header: 'url', kind: 'text' },
          ],
          rows: servers.map((server) => [
            server.name,
            server.driver,
            server.tenants,
            server.bytes === null ? '-' : ui.formatBytes(server.bytes),
            server.connections === null ? '-' : `${server.connections}/${server.maxConnections}`,
            server.error ? `unreachable: ${server.error}` : server.version,
            server.url,
          ]),
        }),
      );
    }
    if (servers.some((server) => server.error)) process.exitCode = ExitCode.serviceUnavailable;
    return { servers };
  }
}
