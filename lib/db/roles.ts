import pg from 'pg';
import { logger } from '../observability/logger.ts';
import { mapDatabaseError } from './errors.ts';

/** The role the functions sign in as: reads and writes rows, never changes the schema. */
export const APPLICATION_ROLE = 'matchbridge_app';
/** The role migrations run as: owns the schema's objects, so it can change them, and nothing else. */
export const MIGRATOR_ROLE = 'matchbridge_migrator';

/** The passwords RDS Proxy signs in with for each role (from their Secrets Manager secrets). */
export interface RolePasswords {
  readonly application: string;
  readonly migrator: string;
}

// Tables, views and sequences not tied to a column: a column's sequence follows its table's owner, and
// ALTER SEQUENCE … OWNER on it fails.
const HAND_OVER_OBJECTS = `
DO $$
DECLARE
  object record;
BEGIN
  FOR object IN
    SELECT c.oid::regclass AS name,
           CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                          ELSE 'TABLE' END AS kind
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public'
      AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
      AND c.relowner <> '${MIGRATOR_ROLE}'::regrole
      AND NOT (c.relkind = 'S' AND EXISTS (
        SELECT FROM pg_depend d
        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO ${MIGRATOR_ROLE}', object.kind, object.name);
  END LOOP;
END $$`;

/**
 * Creates the application and migrator roles, or sets their passwords when they exist, and gives them least
 * privilege: the migrator owns every object of schema `public` and may create more there; the application
 * may only read and write rows (SELECT, INSERT, UPDATE, DELETE on tables, USAGE on sequences), on today's
 * tables and on those the migrator creates later. Runs as the master user, in one transaction; safe to run
 * on every deploy.
 */
export async function setUpRoles(client: pg.ClientBase, passwords: RolePasswords): Promise<void> {
  const { rows } = await client.query<{ database: string }>('SELECT current_database() AS database');
  const database = client.escapeIdentifier(rows[0]?.database ?? '');
  const statements = [
    `DO $$ BEGIN
       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${MIGRATOR_ROLE}') THEN CREATE ROLE ${MIGRATOR_ROLE}; END IF;
       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${APPLICATION_ROLE}') THEN CREATE ROLE ${APPLICATION_ROLE}; END IF;
     END $$`,
    // No other attribute: RDS's master is no superuser, and naming even NOSUPERUSER needs one.
    `ALTER ROLE ${MIGRATOR_ROLE} WITH LOGIN PASSWORD ${client.escapeLiteral(passwords.migrator)}`,
    `ALTER ROLE ${APPLICATION_ROLE} WITH LOGIN PASSWORD ${client.escapeLiteral(passwords.application)}`,
    // The master user must be a member of the migrator to give it objects and set its default privileges
    // (RDS's master is no superuser).
    `GRANT ${MIGRATOR_ROLE} TO CURRENT_USER`,
    `GRANT CONNECT, TEMPORARY ON DATABASE ${database} TO ${MIGRATOR_ROLE}, ${APPLICATION_ROLE}`,
    // PostgreSQL 15+ already keeps PUBLIC from creating in `public`; older servers (local ones) did not.
    'REVOKE CREATE ON SCHEMA public FROM PUBLIC',
    `GRANT USAGE, CREATE ON SCHEMA public TO ${MIGRATOR_ROLE}`,
    `GRANT USAGE ON SCHEMA public TO ${APPLICATION_ROLE}`,
    HAND_OVER_OBJECTS,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${APPLICATION_ROLE}`,
    `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${APPLICATION_ROLE}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${MIGRATOR_ROLE} IN SCHEMA public
       GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${APPLICATION_ROLE}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${MIGRATOR_ROLE} IN SCHEMA public
       GRANT USAGE, SELECT ON SEQUENCES TO ${APPLICATION_ROLE}`,
    // The migration history is the migrator's alone.
    `DO $$ BEGIN
       IF to_regclass('public.pgmigrations') IS NOT NULL THEN
         REVOKE ALL ON public.pgmigrations FROM ${APPLICATION_ROLE};
       END IF;
     END $$`,
  ];
  await client.query('BEGIN');
  try {
    for (const statement of statements) await client.query(statement);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/**
 * {@link setUpRoles} on a connection of its own to `databaseUrl` (the master user's).
 * @throws DatabaseUnavailableError while the database cannot be reached, as the migrations do.
 */
export async function setUpRolesAt(databaseUrl: string, passwords: RolePasswords): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'matchbridge-roles' });
  client.on('error', (err) => logger.warn('role setup connection failed', { error: mapDatabaseError(err) }));
  try {
    await client.connect();
    await setUpRoles(client, passwords);
  } catch (err) {
    throw mapDatabaseError(err);
  } finally {
    await client.end().catch(() => {});
  }
}
