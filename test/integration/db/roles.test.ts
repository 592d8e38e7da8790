import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { migrate } from '../../../lib/db/migrate.ts';
import { APPLICATION_ROLE, MIGRATOR_ROLE, setUpRoles, setUpRolesAt } from '../../../lib/db/roles.ts';
import { type TestDatabase, testDatabase } from '../../support/database.ts';

const PASSWORDS = { application: 'app-secret-password', migrator: 'migrator-secret-password' };

/** A client of the test database signed in as `role`. */
async function signIn(db: TestDatabase, role: string, password: string): Promise<pg.Client> {
  const url = new URL(db.url);
  url.username = role;
  url.password = password;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  return client;
}

/** The SQLSTATE a statement fails with, or undefined when it succeeds. */
async function failureCode(client: pg.Client, sql: string): Promise<string | undefined> {
  try {
    await client.query(sql);
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

const INSUFFICIENT_PRIVILEGE = '42501';

describe('setUpRoles', () => {
  let db: TestDatabase;
  let app: pg.Client;
  let migrator: pg.Client;

  before(async () => {
    db = await testDatabase('roles');
    const admin = await db.pool.connect();
    try {
      await setUpRoles(admin, PASSWORDS);
      // A second deploy runs it again on roles that exist.
      await setUpRoles(admin, PASSWORDS);
    } finally {
      admin.release();
    }
    app = await signIn(db, APPLICATION_ROLE, PASSWORDS.application);
    migrator = await signIn(db, MIGRATOR_ROLE, PASSWORDS.migrator);
  });

  after(async () => {
    await app?.end();
    await migrator?.end();
    await db?.close();
  });

  it('lets the application role read and write rows', async () => {
    await app.query(
      `INSERT INTO domains (id, name) VALUES ('00000000-0000-4000-8000-000000000001', 'roles')`,
    );
    const updated = await app.query(`UPDATE domains SET name = 'roles-2' WHERE name = 'roles'`);
    assert.equal(updated.rowCount, 1);
    const deleted = await app.query(`DELETE FROM domains WHERE name = 'roles-2'`);
    assert.equal(deleted.rowCount, 1);
  });

  it('lets the application role stage rows in a temporary table, as the loads do', async () => {
    await app.query('BEGIN');
    await app.query('CREATE TEMP TABLE roles_stage (id int) ON COMMIT DROP');
    await app.query('COMMIT');
  });

  it('keeps the application role from changing the schema or the migration history', async () => {
    assert.equal(await failureCode(app, 'CREATE TABLE intruder (id int)'), INSUFFICIENT_PRIVILEGE);
    assert.equal(await failureCode(app, 'DROP TABLE domains'), INSUFFICIENT_PRIVILEGE);
    assert.equal(await failureCode(app, 'ALTER TABLE nodes ADD COLUMN intruder int'), INSUFFICIENT_PRIVILEGE);
    assert.equal(await failureCode(app, 'TRUNCATE domains CASCADE'), INSUFFICIENT_PRIVILEGE);
    assert.equal(await failureCode(app, 'DELETE FROM pgmigrations'), INSUFFICIENT_PRIVILEGE);
  });

  it('lets the migrator change existing tables and gives the application DML on the tables it creates', async () => {
    await migrator.query('ALTER TABLE domains ADD COLUMN roles_probe int');
    await migrator.query('CREATE TABLE roles_later (id bigint GENERATED ALWAYS AS IDENTITY, note text)');
    await app.query(`INSERT INTO roles_later (note) VALUES ('written by the application')`);
    const { rows } = await app.query<{ note: string }>('SELECT note FROM roles_later');
    assert.deepEqual(rows, [{ note: 'written by the application' }]);
    assert.equal(await failureCode(app, 'DROP TABLE roles_later'), INSUFFICIENT_PRIVILEGE);
  });
});

describe('setUpRoles as the master user of RDS (CREATEROLE, no superuser)', () => {
  const master = 'mb_roles_rds_master';
  const MASTER_PASSWORD = 'master-secret-password';
  let db: TestDatabase;

  before(async () => {
    // A database only to borrow the server's address; those under test are made empty, owned by the master.
    db = await testDatabase('roles_rds_server');
    await db.pool.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${master}') THEN
        CREATE ROLE ${master} LOGIN CREATEROLE;
      END IF;
    END $$`);
    await db.pool.query(`ALTER ROLE ${master} PASSWORD '${MASTER_PASSWORD}'`);
    // As if this master had made the roles on an earlier deploy (another suite may have made them first).
    for (const role of [APPLICATION_ROLE, MIGRATOR_ROLE]) {
      const { rowCount } = await db.pool.query('SELECT FROM pg_roles WHERE rolname = $1', [role]);
      if (rowCount) await db.pool.query(`GRANT ${role} TO ${master} WITH ADMIN OPTION`);
    }
  });

  after(async () => {
    await db?.close();
  });

  /** An empty database owned by the master user, as RDS creates it; the URL signs in as the master. */
  async function rdsDatabase(name: string): Promise<URL> {
    const database = `${process.env.TEST_DATABASE_PREFIX || 'mb_test_'}${name}`;
    await db.pool.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await db.pool.query(`CREATE DATABASE ${database} OWNER ${master}`);
    const url = new URL(db.url);
    url.pathname = `/${database}`;
    url.username = master;
    url.password = MASTER_PASSWORD;
    return url;
  }

  const as = (url: URL, role: string, password: string): string => {
    const signedIn = new URL(url);
    signedIn.username = role;
    signedIn.password = password;
    return signedIn.toString();
  };

  /** Sets up the roles, migrates as the migrator, and checks who owns what and what the application may do. */
  async function setUpAndMigrate(masterUrl: URL): Promise<void> {
    await setUpRolesAt(masterUrl.toString(), PASSWORDS);
    await migrate(as(masterUrl, MIGRATOR_ROLE, PASSWORDS.migrator));

    const client = new pg.Client({ connectionString: masterUrl.toString() });
    await client.connect();
    try {
      const { rows } = await client.query<{ owner: string }>(
        `SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class
         WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'S')`,
      );
      assert.deepEqual(rows, [{ owner: MIGRATOR_ROLE }]);
    } finally {
      await client.end();
    }
    const app = new pg.Client({ connectionString: as(masterUrl, APPLICATION_ROLE, PASSWORDS.application) });
    await app.connect();
    try {
      await app.query(`INSERT INTO domains (name) VALUES ('rds')`);
      assert.equal(await failureCode(app, 'DROP TABLE domains'), INSUFFICIENT_PRIVILEGE);
    } finally {
      await app.end();
    }
  }

  it('on a new database: creates the roles, the migrator migrates and the application writes rows', async () => {
    await setUpAndMigrate(await rdsDatabase('roles_rds_new'));
  });

  it('on a database the master migrated before the roles existed: hands its objects to the migrator', async () => {
    const masterUrl = await rdsDatabase('roles_rds_upgrade');
    await migrate(masterUrl.toString());

    await setUpAndMigrate(masterUrl);
  });
});
