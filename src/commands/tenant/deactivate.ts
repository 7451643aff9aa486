import { TenantStatusCommand } from '../../lib/ui/status-command.js';

export default class TenantDeactivate extends TenantStatusCommand {
  static summary = 'Deactivate a tenant (status inactive)';
  static examples = ['<%= config.bin %> tenant deactivate acme --reason "unpaid invoice"'];
  protected readonly status = 'inactive';
}
