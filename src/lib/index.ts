/** Public API for applications that share afty's conventions (see README, "Library"). */
export { loadConfig, type AftyConfig } from './config/index.js';
export { AftyContext } from './context.js';
export { AftyError, ConfigError, InputError, OperationError, ServiceError, ExitCode } from './errors.js';
export { tenantDatabaseName, tenantUserName } from './tenants/naming.js';
export { validateDomain, validateTenantId, TENANT_STATUSES, type TenantStatus } from './validation/index.js';
export {
  tenantCache,
  RedisTenantCache,
  DatabaseTenantCache,
  TenantKeyspace,
  centralDomainsKey,
  centralTenantKey,
  type TenantCache,
  type TenantCacheSource,
  type CacheSetOptions,
  type CacheClearOptions,
  type RedisClient,
} from './cache/index.js';
export { connectCache, connectRedis, connectRedisCluster } from './cache/connection.js';
