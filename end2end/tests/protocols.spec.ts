import { test, expect } from "./fixtures";
import type { APIRequestContext, Page } from "@playwright/test";
import { ADMIN_TOKEN, hydrated, screenshot, signIn } from "./helpers";
import { startMock } from "./mock-upstream";

// The coding agents' features (docs/agents.md), once per language: API formats and the model
// list on the upstream form, the session filter of the logs, the sticky share on the dashboard.
//
// (This file sends traffic, so its name sorts after dashboard.spec.ts, which counts every
// request of the day; Playwright runs the files in name order.)

const text = {
  en: {
    nav: { upstreams: "Upstreams", logs: "Request logs", dashboard: "Dashboard" },
    formats: "API formats",
    speaks: (formats: string[]) => `Formats: ${formats.join(", ")}`,
    discovered: "Models this upstream lists",
    fetchNow: "Fetch now",
    modelCount: (n: number) => `${n} models; click one to allow it.`,
    session: "Session",
    showSession: "Show only this session's requests",
    stickyHit: "same upstream as its last request",
    stickyNew: "upstream chosen anew",
    stickyShare: "Sticky session hits",
  },
  zh: {
    nav: { upstreams: "上游", logs: "请求日志", dashboard: "仪表盘" },
    formats: "API 格式",
    speaks: (formats: string[]) => `格式：${formats.join(", ")}`,
    discovered: "该上游提供的模型",
    fetchNow: "立即获取",
    modelCount: (n: number) => `共 ${n} 个模型；点击即可加入允许列表。`,
    session: "会话",
    showSession: "只显示该会话的请求",
    stickyHit: "与上一次请求相同的上游",
    stickyNew: "重新选择的上游",
    stickyShare: "会话粘滞命中率",
  },
};

const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };
const OPENAI_FORMATS = ["chat_completions", "completions", "embeddings", "responses", "moderations", "images", "audio"];

/** A suffix that keeps this run's names apart from an earlier run's against the same server. */
const run = Date.now().toString(36);

async function nav(page: Page, name: string) {
  await page.getByRole("navigation").getByRole("link", { name, exact: true }).click();
  await hydrated(page);
}

async function chat(request: APIRequestContext, key: string, model: string, session?: string) {
  return request.post("/v1/chat/completions", {
    headers: { Authorization: `Bearer ${key}`, ...(session ? { "x-session-id": session } : {}) },
    data: { model, messages: [{ role: "user", content: "hi" }] },
  });
}

async function responses(request: APIRequestContext, key: string, model: string) {
  return request.post("/v1/responses", { headers: { Authorization: `Bearer ${key}` }, data: { model, input: "hi" } });
}

async function upstreamNamed(request: APIRequestContext, name: string) {
  const list = await (await request.get("/api/admin/upstreams?page_size=100", { headers: auth })).json();
  const found = list.items.find((u: { name: string }) => u.name === name);
  expect(found, `upstream ${name} is listed`).toBeTruthy();
  return found;
}

/** A client key for one upstream: its value, and its id. */
async function keyFor(request: APIRequestContext, name: string, upstreamId: string): Promise<{ key: string; keyId: string }> {
  const created = await request.post("/api/admin/keys", { headers: auth, data: { name, upstream_ids: [upstreamId] } });
  expect(created.status()).toBe(201);
  const body = await created.json();
  return { key: body.key_value, keyId: body.id };
}

/** An upstream on the mock serving `model`, made through the admin API (for tests whose subject
 * is the traffic, not the form). */
async function apiUpstream(request: APIRequestContext, name: string, url: string, model: string): Promise<string> {
  const up = await request.post("/api/admin/upstreams", {
    headers: auth,
    data: { name, provider: "openai_compatible", base_url: url, api_key: "sk-e2e-agents-upstream", allowed_models: [model] },
  });
  expect(up.status()).toBe(201);
  return (await up.json()).id;
}

async function deleteUpstream(request: APIRequestContext, id: string | undefined) {
  if (id) await request.delete(`/api/admin/upstreams/${id}`, { headers: auth });
}

/** Opens the upstreams page's form for a new upstream and fills what every test needs. */
async function newUpstreamForm(page: Page, name: string, url: string, model: string) {
  await page.getByTestId("new-upstream").click();
  const form = page.getByTestId("upstream-dialog").getByTestId("upstream-form");
  await form.locator('input[name="name"]').fill(name);
  await form.locator('select[name="provider"]').selectOption("openai_compatible");
  await form.locator('input[name="base_url"]').fill(url);
  await form.locator('input[name="api_key"]').fill("sk-e2e-agents-upstream");
  await form.locator('textarea[name="allowed_models"]').fill(model);
  return form;
}

for (const locale of ["en", "zh"] as const) {
  const t = text[locale];

  test(`API formats on the upstream form decide what the gateway sends it (${locale})`, async ({ page, request }) => {
    const name = `agents-formats-${locale}-${run}`;
    const model = `agents-formats-model-${locale}`;
    const mock = await startMock({ models: [model] });
    let id: string | undefined;
    try {
      await signIn(page, locale);
      await nav(page, t.nav.upstreams);
      const form = await newUpstreamForm(page, name, mock.url, model);

      // The provider's defaults are ticked; a relay without the Responses API unticks it.
      const formats = form.getByTestId("upstream-formats");
      await expect(formats.locator("legend")).toHaveText(t.formats);
      const box = (f: string) => formats.locator(`input[name="api_format"][value="${f}"]`);
      for (const f of OPENAI_FORMATS) await expect(box(f)).toBeChecked();
      for (const f of ["messages", "gemini"]) await expect(box(f)).not.toBeChecked();
      await box("responses").uncheck();
      await form.getByTestId("save").click();
      await expect(page.getByTestId("upstream-dialog")).toBeHidden();

      // The list says what it speaks, since that is not the provider's default.
      const narrowed = OPENAI_FORMATS.filter((f) => f !== "responses");
      const row = page.getByTestId(`upstream-${name}`);
      await expect(row.getByTestId("upstream-speaks")).toHaveText(t.speaks(narrowed));
      const saved = await upstreamNamed(request, name);
      id = saved.id;
      expect(saved.api_formats).toEqual(narrowed);
      expect(saved.speaks).toEqual(narrowed);
      await screenshot(page, `agents-formats-list-${locale}`);

      // Reopened, the boxes show what was saved.
      await row.getByTestId("edit").click();
      await expect(box("responses")).not.toBeChecked();
      for (const f of narrowed) await expect(box(f)).toBeChecked();
      await expect(box("messages")).not.toBeChecked();
      await formats.scrollIntoViewIfNeeded();
      await screenshot(page, `agents-formats-form-${locale}`);

      // Through the gateway: the Responses API is refused without reaching the upstream, chat
      // completions are served.
      const { key } = await keyFor(request, `agents formats ${locale} ${run}`, saved.id);
      const refused = await responses(request, key, model);
      expect(refused.status()).toBe(404);
      expect((await refused.json()).error.message).toBe(`No upstream serves the model \`${model}\` over the responses API.`);
      expect((await chat(request, key, model)).status()).toBe(200);
      expect(mock.hits.filter((h) => h.path === "/v1/responses")).toEqual([]);
      expect(mock.hits.filter((h) => h.path === "/v1/chat/completions")).toHaveLength(1);

      // Ticked again, the formats are the provider's defaults: saved as none, listed as none,
      // and the Responses API reaches the upstream.
      await box("responses").check();
      await form.getByTestId("save").click();
      await expect(page.getByTestId("upstream-dialog")).toBeHidden();
      await expect(row.getByTestId("upstream-speaks")).toHaveCount(0);
      const widened = await (await request.get(`/api/admin/upstreams/${saved.id}`, { headers: auth })).json();
      expect(widened.api_formats).toEqual([]);
      expect(widened.speaks).toEqual(OPENAI_FORMATS);
      const served = await responses(request, key, model);
      expect(served.status(), await served.text()).toBe(200);
      expect((await served.json()).output[0].content[0].text).toBe("hello");
      expect(mock.hits.filter((h) => h.path === "/v1/responses")).toHaveLength(1);
    } finally {
      await deleteUpstream(request, id);
      await mock.close();
    }
  });

  test(`the models an upstream lists, picked into its allowed models (${locale})`, async ({ page, request }) => {
    const name = `agents-models-${locale}-${run}`;
    const allowed = `agents-allowed-${locale}`;
    const listed = [`agents-listed-a-${locale}`, `agents-listed-b-${locale}`];
    const later = `agents-listed-later-${locale}`;
    const mock = await startMock({ models: [allowed, ...listed] });
    let id: string | undefined;
    try {
      await signIn(page, locale);
      await nav(page, t.nav.upstreams);
      const form = await newUpstreamForm(page, name, mock.url, allowed);
      // A new upstream has no list yet: the panel is the edit dialog's.
      await expect(form.getByTestId("discovered-models")).toHaveCount(0);
      await form.getByTestId("save").click();
      await expect(page.getByTestId("upstream-dialog")).toBeHidden();
      id = (await upstreamNamed(request, name)).id;

      // Creating it fetched its list in the background.
      await expect
        .poll(async () => (await (await request.get(`/api/admin/upstreams/${id}/models`, { headers: auth })).json()).fetched_at)
        .not.toBeNull();
      expect(mock.hits.filter((h) => h.method === "GET" && h.path === "/v1/models").length).toBeGreaterThan(0);

      const row = page.getByTestId(`upstream-${name}`);
      await row.getByTestId("edit").click();
      const panel = form.getByTestId("discovered-models");
      await expect(panel).toContainText(t.discovered);
      await expect(panel.getByTestId("models-note")).toHaveText(t.modelCount(3));
      const chips = panel.locator(".chips button");
      await expect(chips).toHaveText([allowed, ...listed].sort());

      // The upstream lists one more; "Fetch now" shows it.
      mock.models.push(later);
      const refresh = panel.getByTestId("refresh-models");
      await expect(refresh).toHaveText(t.fetchNow);
      await refresh.click();
      await expect(panel.getByTestId("models-note")).toHaveText(t.modelCount(4));
      await expect(chips).toHaveText([allowed, ...listed, later].sort());

      // A click adds a model to the allowed ones, once.
      const models = form.locator('textarea[name="allowed_models"]');
      await panel.getByRole("button", { name: later, exact: true }).click();
      await expect(models).toHaveValue(`${allowed}\n${later}`);
      await panel.getByRole("button", { name: later, exact: true }).click();
      await panel.getByRole("button", { name: allowed, exact: true }).click();
      await expect(models).toHaveValue(`${allowed}\n${later}`);
      await panel.scrollIntoViewIfNeeded();
      await screenshot(page, `agents-models-${locale}`);
      await form.getByTestId("save").click();
      await expect(page.getByTestId("upstream-dialog")).toBeHidden();

      // Saved: the API has it, the reopened form shows it, the gateway serves it.
      expect((await (await request.get(`/api/admin/upstreams/${id}`, { headers: auth })).json()).allowed_models).toEqual([allowed, later]);
      await row.getByTestId("edit").click();
      await expect(models).toHaveValue(`${allowed}\n${later}`);
      await page.keyboard.press("Escape");
      await expect(page.getByTestId("upstream-dialog")).toBeHidden();
      const { key } = await keyFor(request, `agents models ${locale} ${run}`, id!);
      const res = await chat(request, key, later);
      expect(res.status()).toBe(200);
      expect(mock.hits.filter((h) => h.path === "/v1/chat/completions").map((h) => h.model)).toEqual([later]);
      // One the admin did not pick stays refused.
      expect((await chat(request, key, listed[0])).status()).toBe(404);
    } finally {
      await deleteUpstream(request, id);
      await mock.close();
    }
  });

  test(`the logs filtered by an agent session (${locale})`, async ({ page, request }) => {
    const model = `agents-sessions-model-${locale}`;
    const keyName = `agents sessions ${locale} ${run}`;
    const mock = await startMock({ models: [model] });
    let id: string | undefined;
    try {
      id = await apiUpstream(request, `agents-sessions-${locale}-${run}`, mock.url, model);
      const { key, keyId } = await keyFor(request, keyName, id);
      const one = `session-one-${locale}-${run}`;
      const two = `session-two-${locale}-${run}`;
      // Oldest first; the logs list newest first: one, two, (none), one, two, one.
      for (const session of [one, two, one, undefined, two, one]) {
        expect((await chat(request, key, model, session)).status()).toBe(200);
      }
      await expect
        .poll(async () => (await (await request.get(`/api/admin/logs?api_key_id=${keyId}`, { headers: auth })).json()).items.length)
        .toBe(6);

      await signIn(page, locale);
      await nav(page, t.nav.logs);
      await page.getByTestId("filter-key").selectOption({ label: keyName });
      const rows = page.getByTestId("log-row");
      await expect(rows).toHaveCount(6);
      const filter = page.getByTestId("filter-session");
      await expect(filter).toHaveAttribute("placeholder", t.session);
      const detail = page.getByTestId("log-detail");

      /** Expands row `i`, reads its session's digest (null without one), folds it again. */
      const sessionOf = async (i: number) => {
        await rows.nth(i).getByTestId("expand").click();
        await expect(detail).toHaveCount(1);
        const shown = detail.getByTestId("detail-session");
        const digest = (await shown.count()) ? await shown.getByTestId("show-session").textContent() : null;
        await rows.nth(i).getByTestId("expand").click();
        await expect(detail).toHaveCount(0);
        return digest;
      };
      expect(await sessionOf(2)).toBeNull();
      const twoDigest = await sessionOf(1);
      expect(twoDigest).toMatch(/^[0-9a-f]{16}$/);

      // The newest row is the third of session one: it stuck. A click on its session filters.
      await rows.first().getByTestId("expand").click();
      await expect(detail).toContainText(t.session);
      await expect(detail.getByTestId("detail-session")).toContainText(t.stickyHit);
      const link = detail.getByTestId("show-session");
      await expect(link).toHaveAttribute("title", t.showSession);
      const oneDigest = await link.textContent();
      expect(oneDigest).toMatch(/^[0-9a-f]{16}$/);
      expect(oneDigest).not.toBe(twoDigest);
      // The logs hold the digest, never the session's own name.
      await expect(page.locator("body")).not.toContainText(one);
      await screenshot(page, `agents-session-detail-${locale}`);
      await link.click();
      await expect(filter).toHaveValue(oneDigest!);
      await expect(rows).toHaveCount(3);
      // Its first request chose the upstream; the later two stuck to it.
      for (const [i, how] of [t.stickyHit, t.stickyHit, t.stickyNew].entries()) {
        await rows.nth(i).getByTestId("expand").click();
        await expect(detail.getByTestId("detail-session")).toHaveText(`${oneDigest} ${how}`);
        await rows.nth(i).getByTestId("expand").click();
      }
      await screenshot(page, `agents-session-filter-${locale}`);

      // Typed: the other session's two requests.
      await filter.fill(twoDigest!);
      await filter.press("Enter");
      await expect(rows).toHaveCount(2);
      // An unknown digest: nothing.
      await filter.fill("0000000000000000");
      await filter.press("Enter");
      await expect(page.getByTestId("empty-state")).toBeVisible();

      // Cleared: every request of the key again.
      await filter.fill("");
      await filter.press("Enter");
      await expect(rows).toHaveCount(6);
      await filter.fill(twoDigest!);
      await filter.press("Enter");
      await expect(rows).toHaveCount(2);
      await page.getByTestId("clear-filters").click();
      await expect(filter).toHaveValue("");
      await page.getByTestId("filter-key").selectOption({ label: keyName });
      await expect(rows).toHaveCount(6);
    } finally {
      await deleteUpstream(request, id);
      await mock.close();
    }
  });

  test(`the sticky share of session requests on the dashboard (${locale})`, async ({ page, request }) => {
    const model = `agents-sticky-model-${locale}`;
    const mock = await startMock({ models: [model] });
    let id: string | undefined;
    try {
      await signIn(page, locale);
      // The dashboard's day is the browser's; the overview is asked for the same one.
      const tz = await page.evaluate(() => -new Date().getTimezoneOffset());
      const overview = async () =>
        (await (await request.get(`/api/admin/stats/overview?range=today&tz_offset_minutes=${tz}`, { headers: auth })).json()) as {
          session_requests: number;
          sticky_share_percent: number | null;
        };
      const before = await overview();
      const hitsBefore = Math.round(((before.sticky_share_percent ?? 0) * before.session_requests) / 100);

      // Two sessions on one upstream (a different number of requests in each language, so the
      // second run's share differs from the first's); a request without a session is not counted.
      id = await apiUpstream(request, `agents-sticky-${locale}-${run}`, mock.url, model);
      const { key } = await keyFor(request, `agents sticky ${locale} ${run}`, id);
      const plan = locale === "en" ? { a: 3, b: 2 } : { a: 4, b: 2 };
      for (const [session, n] of Object.entries(plan)) {
        for (let i = 0; i < n; i++) {
          expect((await chat(request, key, model, `sticky-${session}-${locale}-${run}`)).status()).toBe(200);
        }
      }
      expect((await chat(request, key, model)).status()).toBe(200);
      // Each session's first request chose its upstream; every later one stuck to it.
      const sent = plan.a + plan.b;
      const hits = plan.a - 1 + (plan.b - 1);
      await expect.poll(async () => (await overview()).session_requests).toBe(before.session_requests + sent);
      const share = ((hitsBefore + hits) * 100) / (before.session_requests + sent);
      expect((await overview()).sticky_share_percent).toBeCloseTo(share, 6);

      await page.reload();
      await hydrated(page);
      const card = page.locator(".card.stat", { has: page.getByTestId("stat-sticky") });
      await expect(card.locator(".stat-label")).toHaveText(t.stickyShare);
      await expect(page.getByTestId("stat-sticky")).toHaveText(`${share.toFixed(1)}%`);
      await card.screenshot({ path: `screenshots/agents-sticky-${locale}.png` });
    } finally {
      await deleteUpstream(request, id);
      await mock.close();
    }
  });
}
