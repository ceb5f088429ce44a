// Drives the operator console in headless Chromium (Debian's `chromium`, through
// playwright-core) against a running server, as an operator would: sign in, install a
// plugin from the registry, upload its next version, grant the permissions it asks for
// (the diff shown), disable it, bind a route, watch a job complete live, read health,
// analytics and the API reference, sign out; then a phone-width check of the navigation.
// Every request the pages make is recorded: none may leave the server's origin.
//
// node console.mjs <base-url> <upload-dir> <username> <password> <admin-key> [screenshot-dir]
// Exit 0 when every check passed; otherwise the failed check is printed.

import { createRequire } from 'node:module';
import path from 'node:path';

// playwright-core is installed with the other npm clients, in tests/clients.
const require = createRequire(new URL('../clients/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [base, uploadDir, username, password, adminKey, shots] = process.argv.slice(2);
const origin = new URL(base).origin;
const wsOrigin = origin.replace(/^http/, 'ws');
const PATIENCE = 120000;

const requests = [];
const problems = [];

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

/** Waits until `locator` shows `text` (a user would see it), else fails naming both. */
async function see(locator, text, what) {
  try {
    await locator.filter({ hasText: text }).first().waitFor({ state: 'visible', timeout: PATIENCE });
  } catch (error) {
    const shown = await locator.first().textContent().catch(() => '(nothing)');
    throw new Error(`${what}: expected to see ${JSON.stringify(String(text))}; the page shows ${JSON.stringify(shown)}`);
  }
}

function watch(context, label) {
  context.on('request', (request) => requests.push({ page: label, url: request.url() }));
  context.on('page', (page) => watchPage(page, label));
}

const frames = [];
function watchPage(page, label) {
  page.on('console', (message) => {
    // An answer of 4xx is logged by Chromium as a failed load (the console asks for the
    // audit with a non-admin login, say); anything else (a script error, a refusal by the
    // Content-Security-Policy) is a problem.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource: the server responded with a status of 4')) {
      problems.push(`${label} console error: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`${label} script error: ${error.message}`));
  page.on('websocket', (socket) => {
    requests.push({ page: label, url: socket.url() });
    socket.on('framereceived', (frame) => frames.push(String(frame.payload)));
  });
}

/** Form controls of the current view that have no accessible name (label or aria-label). */
const unlabelled = [];
async function labelsPresent(page, view) {
  const missing = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
    .map((el) => el.outerHTML.slice(0, 80)));
  for (const m of missing) unlabelled.push(`${view}: ${m}`);
}

async function shot(page, name) {
  if (shots) await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--disable-extensions', '--no-default-browser-check'],
});

try {
  // ---- The operator at a desk (1280 px) ----
  const desk = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  watch(desk, 'desk');
  const page = await desk.newPage();
  watchPage(page, 'desk');
  const response = await page.goto(`${base}/console`);
  const csp = response.headers()['content-security-policy'] || '';
  check(csp.includes("default-src 'none'") && csp.includes("script-src 'self'"), `strict CSP on the page: ${csp}`);
  const heading = page.locator('h1');
  await see(heading, 'Sign in', 'first view without a session');
  // The first Tab reaches the skip link, which moves focus to the content.
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement.textContent === 'Skip to content'), 'skip link first in focus order');
  await page.keyboard.press('Enter');
  check(await page.evaluate(() => document.activeElement.id === 'main'), 'skip link moves focus to the content');
  await labelsPresent(page, 'sign-in');

  // Sign in as a user.
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await see(page.locator('#signed-in-as'), `Signed in as ${username}`, 'signed-in line');
  await see(heading, 'Health', 'view after signing in');
  await see(page.locator('#health-status'), /healthy|degraded|unhealthy/, 'health status');

  // Install from the registry.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Install' }).click();
  await see(heading, 'Install', 'install view');
  await page.getByLabel('Search the registry').fill('version');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByRole('button', { name: 'Install Version probe (test fixture)' }).click();
  await see(page.locator('#install-status'), 'Installed version-probe 1.0.0', 'registry install');
  await shot(page, '01-installed');
  await labelsPresent(page, 'install');

  // Upload the next version, which asks for more: it waits for a grant.
  await page.getByLabel('Manifest (manifest.json)').setInputFiles(path.join(uploadDir, 'manifest.json'));
  await page.getByLabel('Component (.wasm)').setInputFiles(path.join(uploadDir, 'component.wasm'));
  await page.getByRole('button', { name: 'Upload and install' }).click();
  await see(page.locator('#upload-status'), 'waits for a grant', 'upload of an update asking for more');
  await see(page.locator('#upload-status'), 'secret `EXTRA_TOKEN`', 'what the update asks for');

  // The plugin's page shows the change a grant makes; grant it.
  await page.locator('#upload-status').getByRole('link', { name: 'Open version-probe' }).click();
  await see(heading, 'Plugin: Version probe (test fixture)', 'plugin page');
  const diff = page.locator('#permission-diff');
  await see(diff.locator('tr', { hasText: 'Secrets' }), 'EXTRA_TOKEN (added)', 'the grant diff');
  await see(diff.locator('tr', { hasText: 'Network hosts' }), 'example.org (added)', 'the grant diff');
  await shot(page, '02-grant');
  await labelsPresent(page, 'plugin');
  await page.getByRole('button', { name: 'Grant these permissions' }).click();
  await see(page.locator('#announcer'), 'version-probe updated to 2.0.0', 'grant answer');
  await see(page.locator('#plugin-version'), '2.0.0', 'version after the grant');
  await see(page.locator('#pending-grant, main p'), 'No permissions are waiting', 'nothing pending');
  await see(page.locator('[data-budget="max_concurrent"]'), /^\d+$/, 'the budget the host enforces');
  await see(page.locator('[data-budget="calls_per_minute"]'), /^(\d+|unlimited)$/, 'the rate budget');

  // Disable it.
  await page.getByRole('button', { name: 'Disable', exact: true }).click();
  await see(page.locator('#announcer'), 'Disabled version-probe', 'disable answer');
  await see(page.locator('#plugin-state'), 'disabled', 'state after disabling');
  await page.getByRole('link', { name: '← All plugins' }).click();
  await see(page.locator('tr[data-plugin="version-probe"] .plugin-state'), 'disabled', 'plugins list');

  // Bind a route.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Routes' }).click();
  await see(heading, 'Routes', 'routes view');
  await page.getByLabel('Route name').fill('coder');
  await page.getByLabel('Provider chain').fill('local');
  await page.getByRole('button', { name: 'Bind', exact: true }).click();
  await see(page.locator('#bind-status'), 'coder', 'bind answer');
  await see(page.locator('tr[data-route="coder"] .serving'), 'local', 'who serves the new route');
  await shot(page, '03-routes');
  await labelsPresent(page, 'routes');

  // A job completes live, over the /ws/jobs WebSocket.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs' }).click();
  await see(page.locator('#jobs-live'), 'Live: connected', 'live connection');
  await page.getByLabel('Prompt').fill('Write a one-line greeting for the console test');
  await page.getByLabel('Route').selectOption('coder');
  await page.getByRole('button', { name: 'Create job' }).click();
  await see(page.locator('#job-create-status'), 'Created job', 'job created');
  const jobId = ((await page.locator('#job-create-status').textContent()) || '').replace(/^.*Created job /, '').trim();
  check(jobId.startsWith('job-'), `job id shown: ${jobId}`);
  await see(page.locator(`tr[data-job="${jobId}"] .job-status`), 'completed', 'job completes on the page');
  check(frames.some((f) => f.includes('"job_completed"') && f.includes(jobId)),
    'the completion arrived over the WebSocket');
  await see(page.locator(`tr[data-job="${jobId}"]`), 'local', 'the provider that wrote it');
  await shot(page, '04-jobs');
  await labelsPresent(page, 'jobs');

  // Health, analytics charts, the API reference.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Analytics' }).click();
  await see(heading, 'Analytics', 'analytics view');
  await page.locator('svg.chart').first().waitFor({ timeout: PATIENCE });
  await see(page.locator('#analytics-totals'), 'Requests', 'analytics totals');
  await see(page.locator('figure figcaption'), 'Chat latency by provider', 'latency chart');
  await shot(page, '05-analytics');
  await labelsPresent(page, 'analytics');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API reference' }).click();
  await page.getByLabel('Filter operations').fill('/api/jobs');
  await see(page.locator('.operation summary'), '/api/jobs/{job_id}/retry', 'reference entry');
  await page.locator('.operation summary', { hasText: '/api/jobs/{job_id}/retry' }).click();
  await see(page.locator('.operation[open]'), 'Answers', 'an opened operation');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Health' }).click();
  await see(page.locator('caption'), 'Health probes', 'probes table');

  // Sign out.
  await page.getByRole('button', { name: 'Sign out' }).first().click();
  await see(page.locator('#who'), 'Not signed in', 'after signing out');
  await desk.close();

  // ---- On a phone (390 px): the navigation is reachable through the menu ----
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  watch(phone, 'phone');
  const small = await phone.newPage();
  watchPage(small, 'phone');
  await small.goto(`${base}/console#signin`);
  await small.getByLabel('API key', { exact: true }).fill(adminKey);
  await small.getByRole('button', { name: 'Sign in with key' }).click();
  await see(small.locator('#signed-in-as'), 'Signed in as API key', 'key sign-in on the phone');
  const nav = small.getByRole('navigation', { name: 'Main' });
  const pluginsLink = nav.getByRole('link', { name: 'Plugins' });
  check(!(await pluginsLink.isVisible()), 'the navigation folds behind the menu on a phone');
  const menu = small.getByRole('button', { name: 'Menu' });
  check((await menu.getAttribute('aria-expanded')) === 'false', 'menu starts closed');
  await menu.tap();
  check((await menu.getAttribute('aria-expanded')) === 'true', 'menu says it is open');
  await pluginsLink.tap();
  await see(small.locator('h1'), 'Plugins', 'plugins view on the phone');
  await see(small.locator('tr[data-plugin="version-probe"]'), 'version-probe', 'plugins list on the phone');
  await shot(small, '06-phone');
  // Every view through the menu, none wider than the phone.
  for (const view of ['Plugins', 'Install', 'Routes', 'Jobs', 'Analytics', 'Health', 'API reference']) {
    if (view !== 'Plugins') {
      await menu.tap();
      await nav.getByRole('link', { name: view }).tap();
      await see(small.locator('h1'), view, `${view} on the phone`);
      await small.locator('main .view-body > *').first().waitFor({ timeout: PATIENCE });
    }
    check(!(await pluginsLink.isVisible()), `the menu folds again after choosing ${view}`);
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `no sideways scrolling of ${view} on a phone (${overflow} px too wide)`);
  }

  // Without the WebSocket (refused here), the job list says so and polls instead.
  await small.routeWebSocket(/\/ws\/jobs$/, (socket) => socket.close());
  await menu.tap();
  await nav.getByRole('link', { name: 'Jobs' }).tap();
  await see(small.locator('#jobs-live'), 'Live updates unavailable', 'the fallback is said on the page');
  await small.getByLabel('Prompt').fill('A job followed by polling');
  await small.getByRole('button', { name: 'Create job' }).tap();
  await see(small.locator('#job-create-status'), 'Created job', 'job created on the phone');
  const polled = ((await small.locator('#job-create-status').textContent()) || '').replace(/^.*Created job /, '').trim();
  await see(small.locator(`tr[data-job="${polled}"] .job-status`), 'completed', 'a polled job completes on the page');
  await phone.close();

  // ---- Nothing left the server ----
  const outside = requests.filter((r) => !r.url.startsWith(`${origin}/`) && !r.url.startsWith(`${wsOrigin}/`));
  check(outside.length === 0, `requests that left ${origin}: ${JSON.stringify(outside)}`);
  check(requests.length > 20, `the pages' requests were recorded (${requests.length})`);
  check(unlabelled.length === 0, `every control has an accessible name: ${unlabelled.join(' | ')}`);
  check(problems.length === 0, `no script errors or policy violations: ${problems.join(' | ')}`);
  console.log(`console flow passed: ${requests.length} requests, all to ${origin}; ${frames.length} WebSocket frames`);
} catch (error) {
  console.error(error.message);
  console.error(`requests so far: ${requests.length}; problems: ${problems.join(' | ') || 'none'}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
