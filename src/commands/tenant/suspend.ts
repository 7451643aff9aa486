import { TenantStatusCommand } from '../../lib/ui/status-command.js';

export default class TenantSuspend extends TenantStatusCommand {
  static summary = 'Suspend a tenant (status suspended)';
  static examples = ['<%= config.bin %> tenant suspend acme --reason "unpaid invoice"'];
  protected readonly status = 'suspended';
}
