import type { NetworkLocation } from '../../engine.js';
import {
  describeNetwork,
  networkConnectionUrl,
  parseNetworkConnection,
  parseNetworkUrl,
  type NetworkDialect,
} from '../network-url.js';

export const MYSQL_URL: NetworkDialect = {
  driver: 'mysql',
  scheme: 'mysql',
  defaultPort: 3306,
  defaultUser: 'root',
  maxNameBytes: 64,
  example: 'mysql://user:password@host:3306/database',
};

export const parseMysqlUrl = (url: string, key: string) => parseNetworkUrl(MYSQL_URL, url, key);
export const parseMysqlConnection = (spec: unknown, key: string) =>
  parseNetworkConnection(MYSQL_URL, spec, key);
export const describeMysql = (location: NetworkLocation) => describeNetwork(MYSQL_URL, location);
export const mysqlConnectionUrl = (location: NetworkLocation) => networkConnectionUrl(MYSQL_URL, location);
