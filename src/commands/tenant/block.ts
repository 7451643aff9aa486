import { TenantStatusCommand } from '../../lib/ui/status-command.js';

export default class TenantBlock extends TenantStatusCommand {
  static summary = 'Block a tenant (status blocked)';
  static examples = ['<%= config.bin %> tenant block acme --reason "unpaid invoice"'];
  protected readonly status = 'blocked';
}
