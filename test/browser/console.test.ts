import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type ApiServer, startApiServer } from '../../lib/api/server.ts';
import { initLocalConfig } from '../../lib/local/adapters.ts';
import { localApiContext } from '../../lib/local/api-context.ts';
import { localDeadLetters } from '../../lib/local/dead-letters.ts';
import { closeRuntimeDeps, runtimeDeps } from '../../lib/runtime/deps.ts';
import { ROOT } from '../support/cli.ts';
import { testDatabase } from '../support/database.ts';

const DOMAIN = '9c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f';
const BIG_ROWS = 300_000;
const DOCS = join(ROOT, 'docs');

/** The system's Chromium (Debian's package): nothing is downloaded. */
/** The value and maximum of the job page's progress bar (a `<progress>`). */
const barOf = (page: Page) =>
  page.locator('#job-progress').evaluate((bar) => {
    const { value, max } = bar as unknown as { value: number; max: number };
    return { value, max };
  });

const CHROMIUM = execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], {
  encoding: 'utf8',
}).trim();

async function* bigCsv(rows: number): AsyncGenerator<string> {
  yield 'reference_id,city,age\n';
  const chunk = 10_000;
  for (let start = 0; start < rows; start += chunk) {
    let text = '';
    for (let i = start; i < Math.min(rows, start + chunk); i += 1)
      text += `big-${i},City ${i % 97},${20 + (i % 50)}\n`;
    yield text;
  }
}

describe('the console in a real browser', () => {
  let dir: string;
  let home: string;
  let closeDb: () => Promise<void>;
  let server: ApiServer;
  let drain: () => Promise<void>;
  let browser: Browser;
  let page: Page;

  const post = async (path: string, body: string, type = 'application/json', key = `k-${Math.random()}`) => {
    const response = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': type, 'idempotency-key': key },
      body,
    });
    assert.equal(response.status, 202, await response.clone().text());
    return (await response.json()) as { job_id: string };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-console-'));
    home = join(dir, 'home');
    await mkdir(join(dir, 'imports'));
    const db = await testDatabase('console_browser');
    closeDb = db.close;
    initLocalConfig({
      DATABASE_URL: db.url,
      MATCHBRIDGE_HOME: home,
      API_LOCAL_IMPORT_ROOT: join(dir, 'imports'),
    });
    const context = localApiContext(await runtimeDeps());
    drain = context.drain;
    server = await startApiServer(context, { port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await mkdir(DOCS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await server.close();
    await drain();
    await closeRuntimeDeps();
    await closeDb();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows a running 300,000-row import on the jobs page; its progress moves and it ends COMPLETED', async () => {
    const file = join(dir, 'imports', 'big.csv');
    await pipeline(Readable.from(bigCsv(BIG_ROWS)), createWriteStream(file));
    const { job_id: jobId } = await post(
      '/v1/imports',
      JSON.stringify({
        resource_type: 'nodes',
        format: 'csv',
        domain_id: DOMAIN,
        group_id: 'big',
        source_uri: file,
      }),
    );

    await page.goto(`${server.url}/console/#/jobs`);
    const row = page.locator(`tr[data-job="${jobId}"]`);
    await row.getByText('processing').waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(DOCS, 'console-jobs.png'), fullPage: true });
    // The list refreshes every 2 s; the link keeps the keyboard focus through a refresh, and Enter opens it.
    const link = row.getByRole('link');
    await link.focus();
    await row
      .locator('td', { hasText: /^[1-9]/ })
      .first()
      .waitFor({ timeout: 5_000 })
      .catch(() => undefined);
    await page.waitForTimeout(2_500);
    assert.ok(await link.evaluate((element) => element === element.ownerDocument.activeElement));
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: `Job ${jobId}` }).waitFor();
    // What the bar showed, sampled until the job ended.
    const seen: Array<{ value: number; max: number }> = [];
    const status = page.locator('#job-status');
    for (let i = 0; i < 3000 && !/completed|failed/.test(await status.innerText()); i += 1) {
      seen.push(await barOf(page));
      await page.waitForTimeout(100);
    }
    await page.locator('#job-status', { hasText: 'completed' }).waitFor();

    const final = await barOf(page);
    assert.deepEqual(final, { value: BIG_ROWS, max: BIG_ROWS });
    assert.equal(await page.locator('#job-processed').innerText(), '300,000');
    // Moving: the bar showed some rows done and some left while the job ran.
    assert.ok(
      seen.some((s) => s.value > 0 && s.value < BIG_ROWS),
      `the bar never showed a job part done: ${JSON.stringify(seen.slice(-5))}`,
    );
  });

  it('shows the bad lines of a job with their line numbers and reasons', async () => {
    const csv = 'reference_id,city\nok-1,Pune\nbad-1,Pune,extra\n,Delhi\nok-2,Goa\n';
    const { job_id: jobId } = await post(
      `/v1/imports?resource_type=nodes&format=csv&domain_id=${DOMAIN}&group_id=bad-lines`,
      csv,
      'text/csv',
    );
    await drain();

    await page.goto(`${server.url}/console/#/jobs/${jobId}`);
    const table = page.getByRole('table', { name: 'Failed rows with their line numbers and reasons' });
    await table.locator('tbody tr').first().waitFor();
    const rows = await table
      .locator('tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
      );

    assert.deepEqual(
      rows.map(([line]) => line),
      ['3', '4'],
    );
    for (const [, reasons] of rows) assert.ok((reasons ?? '').length > 0);
    assert.equal(await page.locator('#job-failed').innerText(), '2');
    await page.screenshot({ path: join(DOCS, 'console-job.png'), fullPage: true });
  });

  it('replays a dead letter from its page, by keyboard, and its job starts', async () => {
    await localDeadLetters(home).send({
      reason: 'written under an older rule',
      code: 'UNSUPPORTED_REQUEST',
      topic: 'console-users',
      partition: 0,
      offset: 7,
      key: null,
      headers: {},
      value: JSON.stringify({
        domainId: DOMAIN,
        groupId: 'replayed',
        filePath: join(ROOT, 'samples', 'nodes.csv'),
      }),
      valueEncoding: 'utf8',
    });

    await page.goto(`${server.url}/console/#/dead-letters`);
    await page.getByRole('table', { name: 'Dead letters, oldest first' }).getByRole('link').first().click();
    await page.getByText('written under an older rule').first().waitFor();
    await page.screenshot({ path: join(DOCS, 'console-dead-letter.png'), fullPage: true });
    await page.getByRole('button', { name: 'Replay…' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Replay this dead letter?' });
    await dialog.waitFor();
    // Cancel has the focus: one Tab reaches Confirm.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    const jobLink = page.locator('#replay-result a');
    await jobLink.waitFor();
    const jobId = (await jobLink.innerText()).replace('job ', '');
    await jobLink.click();
    await page.getByRole('heading', { name: `Job ${jobId}` }).waitFor();
    await page.locator('#job-status', { hasText: 'completed' }).waitFor({ timeout: 120_000 });

    const letters = (await fetch(`${server.url}/v1/dead-letters?state=replayed`).then((r) => r.json())) as {
      letters: Array<{ replay: { job_id: string } }>;
    };
    assert.equal(letters.letters[0]?.replay.job_id, jobId);
  });
});
