import { TenantStatusCommand } from '../../lib/ui/status-command.js';

export default class TenantActivate extends TenantStatusCommand {
  static summary = 'Activate a tenant (status active)';
  static examples = ['<%= config.bin %> tenant activate acme'];
  protected readonly status = 'active';
}
