import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { APPLICATION_ROLE, MIGRATOR_ROLE, setUpRoles } from '../../../lib/db/roles.ts';
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
