import { test, expect } from "./fixtures";
import type { APIRequestContext, Page } from "@playwright/test";
import { ADMIN_TOKEN, hydrated, screenshot, signIn } from "./helpers";
import { startMock } from "./mock-upstream";

// Spend control, once per language: a price set on the prices page, an upstream with caps and a
// price multiplier, a key with an rpm of 2 and a daily budget set in the key dialog; requests
// through the gateway until the key is refused; then the key's spend bars and spend by day,
// the dashboard's cost cards, the logs' cost and refusal reason, and the upstream's spend.
//
// One request: 7 prompt + 5 completion tokens (the mock's usage) at $5 per million tokens
// either way, times the upstream's multiplier of 2 = $0.00012. The daily budget of $0.0002 is
// under by one request and spent by two.

const text = {
  en: {
    nav: { prices: "Model prices", upstreams: "Upstreams", keys: "API keys", dashboard: "Dashboard", logs: "Request logs" },
    custom: "Custom",
    limits: "Limits",
    rpm: "Requests / minute",
    dailyBudget: "Daily budget (USD)",
    monthlyQuota: "Monthly quota (USD)",
    multiplier: "Price multiplier",
    rpmRange: "Must be in the range 1–1000000.",
    spendHeader: "Spend",
    today: "Today",
    month: "This month",
    daysTitle: (name: string) => `Spend of ${name}`,
    dayHeaders: ["Day", "Requests", "Tokens", "Cost"],
    costToday: "Cost today",
    refused: "Refused by limits",
    costChart: "Cost over time",
    topKeysCost: "Top keys by cost",
    refusedBy: "Refused by",
    upstreamSpend: "Spend this month",
  },
  zh: {
    nav: { prices: "模型价格", upstreams: "上游", keys: "API 密钥", dashboard: "仪表盘", logs: "请求日志" },
    custom: "自定义",
    limits: "限制",
    rpm: "每分钟请求数",
    dailyBudget: "每日预算（美元）",
    monthlyQuota: "每月额度（美元）",
    multiplier: "价格倍率",
    rpmRange: "必须在 1–1000000 范围内。",
    spendHeader: "花费",
    today: "今日",
    month: "本月",
    daysTitle: (name: string) => `${name} 的花费`,
    dayHeaders: ["日期", "请求数", "Token 数", "费用"],
    costToday: "今日费用",
    refused: "被限制拒绝",
    costChart: "费用趋势",
    topKeysCost: "费用最高的密钥",
    refusedBy: "拒绝原因",
    upstreamSpend: "本月花费",
  },
};

const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };

async function nav(page: Page, name: string) {
  await page.getByRole("navigation").getByRole("link", { name, exact: true }).click();
  await hydrated(page);
}

/** `$0.000240` as a number. */
function usd(shown: string | null): number {
  const n = Number((shown ?? "").trim().replace(/^\$/, ""));
  expect(Number.isFinite(n), `"${shown}" reads as money`).toBe(true);
  return n;
}

async function chat(request: APIRequestContext, key: string, model: string) {
  return request.post("/v1/chat/completions", {
    headers: { Authorization: `Bearer ${key}` },
    data: { model, messages: [{ role: "user", content: "hi" }] },
  });
}

/** Reloads the keys page, searched for `name`, until the key's bar of today reads `want` (the
 * log writer batches the rows the spend is counted from). */
async function expectSpendToday(page: Page, name: string, want: string) {
  await expect(async () => {
    await page.reload();
    await hydrated(page);
    await page.getByTestId("key-search").fill(name);
    await expect(page.getByTestId(`key-${name}`).getByTestId("spend-today")).toHaveText(want, { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
}

for (const locale of ["en", "zh"] as const) {
  test(`limits and a budget on a key, its spend, the cost cards and the logs (${locale})`, async ({ page, request }) => {
    const t = text[locale];
    const model = `spend-model-${locale}`;
    // Upstreams are listed by priority, then name: this one stays on the first page.
    const upstreamName = `a-spend-upstream-${locale}`;
    const keyName = `spend key ${locale}`;
    const mock = await startMock();
    try {
      await signIn(page, locale);

      // What the dashboard counted before this test's traffic (other tests send some too).
      await expect(page.getByTestId("cost-cards")).toBeVisible();
      const costBefore = usd(await page.getByTestId("cost-today").textContent());
      const refusedBefore = Number(await page.getByTestId("stat-refused").textContent());

      // A price for the model, on the prices page.
      await nav(page, t.nav.prices);
      await page.getByTestId("new-price").click();
      const priceForm = page.getByTestId("price-dialog").getByTestId("price-form");
      await priceForm.locator('input[name="model"]').fill(model);
      await priceForm.locator('input[name="input"]').fill("5");
      await priceForm.locator('input[name="output"]').fill("5");
      await priceForm.getByTestId("save").click();
      await expect(page.getByTestId("price-dialog")).toBeHidden();
      await page.getByTestId("price-search").fill(model);
      const price = page.getByTestId(`price-${model}`);
      await expect(price.getByTestId("price-input")).toHaveText("5.00");
      await expect(price.getByTestId("price-output")).toHaveText("5.00");
      await expect(price.getByTestId("price-source")).toHaveText(t.custom);
      await screenshot(page, `spend-prices-${locale}`);

      // An upstream with caps, a monthly quota and a price multiplier of 2.
      await nav(page, t.nav.upstreams);
      await page.getByTestId("new-upstream").click();
      const upForm = page.getByTestId("upstream-form");
      await upForm.locator('input[name="name"]').fill(upstreamName);
      await upForm.locator('input[name="base_url"]').fill(mock.url);
      await upForm.locator('input[name="api_key"]').fill("sk-e2e-spend-upstream-key");
      await upForm.locator('textarea[name="allowed_models"]').fill(model);
      const caps = upForm.getByTestId("upstream-limits");
      await expect(caps).toContainText(t.monthlyQuota);
      await expect(caps).toContainText(t.multiplier);
      await caps.locator('input[name="limits.max_concurrent"]').fill("5");
      await caps.locator('input[name="limits.rpm"]').fill("100");
      await caps.locator('input[name="limits.monthly_quota_usd"]').fill("10");
      await expect(caps.locator('input[name="price_multiplier"]')).toHaveValue("1");
      await caps.locator('input[name="price_multiplier"]').fill("2");
      await upForm.getByTestId("save").click();
      await expect(page.getByTestId("upstream-dialog")).toBeHidden();
      const upRow = page.getByTestId(`upstream-${upstreamName}`);
      await expect(upRow.getByTestId("upstream-spend")).toHaveText("$0 / $10.00");

      // The key: limits in the dialog, a bad value refused under its field first.
      await nav(page, t.nav.keys);
      await page.getByTestId("new-key").click();
      const dialog = page.getByTestId("key-dialog");
      await dialog.locator('input[name="name"]').fill(keyName);
      for (const box of await dialog.locator('input[name="upstream"]').all()) await box.uncheck();
      await dialog.getByLabel(upstreamName).check();
      const limits = dialog.getByTestId("key-limits");
      await expect(limits.locator("legend")).toHaveText(t.limits);
      await expect(limits).toContainText(t.rpm);
      await expect(limits).toContainText(t.dailyBudget);
      await limits.locator('input[name="allowed_models"]').fill("spend-model-*");
      await limits.locator('input[name="rpm"]').fill("0");
      await limits.locator('input[name="daily_budget_usd"]').fill("0.0002");
      await dialog.getByTestId("save").click();
      await expect(limits.getByTestId("error-limits.rpm")).toHaveText(t.rpmRange);
      await expect(page.getByTestId("new-key-dialog")).toBeHidden();
      await screenshot(page, `spend-key-limits-error-${locale}`);
      await limits.locator('input[name="rpm"]').fill("2");
      await dialog.getByTestId("save").click();
      const key = await page.getByTestId("new-key-value").inputValue();
      await page.getByTestId("new-key-done").click();

      const saved = page.getByTestId(`key-${keyName}`);
      await expect(saved.getByTestId("spend-today")).toHaveText(`${t.today} $0 / $0.000200`);
      await expect(saved.getByTestId("spend-today").getByRole("meter")).toHaveAttribute("aria-valuenow", "0");
      await expect(saved.getByTestId("spend-month")).toHaveText(`${t.month} $0`);
      await expect(saved.getByTestId("spend-month").getByRole("meter")).toHaveCount(0);

      // One request: under the budget, the bar part full.
      const first = await chat(request, key, model);
      expect(first.status()).toBe(200);
      expect(first.headers()["x-ratelimit-limit-requests"]).toBe("2");
      await expectSpendToday(page, keyName, `${t.today} $0.000120 / $0.000200`);
      const todayBar = saved.getByTestId("spend-today").getByRole("meter");
      await expect(todayBar).toHaveAttribute("aria-valuenow", "60");
      await expect(todayBar).not.toHaveClass(/\bover\b/);

      // The second spends the budget; the third is over the rate (2 a minute).
      expect((await chat(request, key, model)).status()).toBe(200);
      const third = await chat(request, key, model);
      expect(third.status()).toBe(429);
      expect((await third.json()).error.code).toBe("rate_limit_exceeded");
      expect(Number(third.headers()["retry-after"])).toBeGreaterThan(0);

      // With the rate raised, the spent budget refuses.
      await page.reload();
      await hydrated(page);
      await page.getByTestId("key-search").fill(keyName);
      await saved.getByTestId("edit").click();
      await expect(limits.locator('input[name="rpm"]')).toHaveValue("2");
      await expect(limits.locator('input[name="daily_budget_usd"]')).toHaveValue("0.0002");
      await expect(limits.locator('input[name="allowed_models"]')).toHaveValue("spend-model-*");
      await limits.scrollIntoViewIfNeeded();
      await screenshot(page, `spend-key-dialog-${locale}`);
      await limits.locator('input[name="rpm"]').fill("100");
      await dialog.getByTestId("save").click();
      await expect(dialog).toBeHidden();
      const fourth = await chat(request, key, model);
      expect(fourth.status()).toBe(429);
      expect((await fourth.json()).error.code).toBe("insufficient_quota");

      // The bar is full and red; the month has no budget, so no bar.
      await expectSpendToday(page, keyName, `${t.today} $0.000240 / $0.000200`);
      await expect(todayBar).toHaveClass(/\bover\b/);
      await expect(todayBar).toHaveAttribute("aria-valuenow", "100");
      await expect(saved.getByTestId("spend-month")).toHaveText(`${t.month} $0.000240`);
      await expect(page.getByTestId("keys-table").locator("thead")).toContainText(t.spendHeader);
      await page.getByTestId("key-search").fill("");
      const allKeys = await (await request.get("/api/admin/keys", { headers: auth })).json();
      await expect(page.getByTestId("keys-table").locator("tbody tr")).toHaveCount(Math.min(allKeys.total, 20));
      await expect(todayBar).toHaveClass(/\bover\b/);
      await screenshot(page, `spend-keys-${locale}`);

      // Spend by day: two weeks, newest first, today's cost on top.
      await saved.getByTestId("spend").click();
      const days = page.getByTestId("spend-dialog");
      await expect(days.getByRole("heading", { level: 2 })).toHaveText(t.daysTitle(keyName));
      const byDay = days.getByTestId("spend-by-day");
      await expect(byDay.locator("thead th")).toHaveText(t.dayHeaders);
      await expect(byDay.locator("tbody tr")).toHaveCount(14);
      const today = new Date().toISOString().slice(0, 10); // the budget zone is UTC here
      await expect(byDay.locator("tbody tr").first().locator("td")).toHaveText([today, "4", "24", "$0.000240"]);
      await expect(byDay.locator("tbody tr").nth(1).locator("td").last()).toHaveText("$0");
      await screenshot(page, `spend-by-day-${locale}`);
      await page.keyboard.press("Escape");
      await expect(days).toBeHidden();

      // The dashboard: today's cost and the refusals, the cost chart, the leaders by cost.
      await nav(page, t.nav.dashboard);
      await expect(async () => {
        await page.reload();
        await hydrated(page);
        await expect(page.getByTestId("stat-refused")).toHaveText(String(refusedBefore + 2), { timeout: 1_000 });
      }).toPass({ timeout: 20_000 });
      const cards = page.getByTestId("cost-cards");
      await expect(cards).toContainText(t.costToday);
      const costToday = usd(await page.getByTestId("cost-today").textContent());
      expect(costToday).toBeGreaterThan(0);
      expect(costToday - costBefore).toBeCloseTo(0.00024, 6);
      expect(usd(await page.getByTestId("cost-7d").textContent())).toBeGreaterThanOrEqual(costToday);
      expect(usd(await page.getByTestId("cost-30d").textContent())).toBeGreaterThanOrEqual(costToday);
      await expect(page.getByTestId("stat-unpriced")).toHaveText(/^\d+$/);
      await expect(page.getByTestId("dashboard-cards")).toContainText(t.refused);
      await expect(page.getByTestId("cost-chart").locator("rect")).not.toHaveCount(0);
      await expect(page.getByTestId("cost-chart")).toContainText(upstreamName);
      await expect(page.locator(".card", { has: page.getByTestId("cost-chart") }).getByRole("heading")).toHaveText(t.costChart);
      const topKeys = page.getByTestId("top-keys-cost");
      await expect(topKeys.getByRole("heading")).toHaveText(t.topKeysCost);
      // (Both languages' keys spend as much: either may come first.)
      await expect(topKeys.locator("tbody tr").first().locator("td").last()).toHaveText("$0.000240");
      await expect(topKeys.locator("tbody tr", { hasText: keyName }).locator("td").last()).toHaveText("$0.000240");
      await expect(page.getByTestId("top-upstreams-cost")).toContainText(upstreamName);
      await expect(page.getByTestId("top-models-cost")).toContainText(model);
      await screenshot(page, `spend-dashboard-${locale}`);
      await cards.screenshot({ path: `screenshots/spend-cost-cards-${locale}.png` });

      // The logs: the cost of each answered request, the reason of each refusal.
      await nav(page, t.nav.logs);
      await page.getByTestId("filter-key").selectOption({ label: keyName });
      const rows = page.getByTestId("log-row");
      await expect(rows).toHaveCount(4);
      await page.getByTestId("filter-status").selectOption("2xx");
      await expect(rows).toHaveCount(2);
      for (const row of await rows.all()) await expect(row.getByTestId("log-cost")).toHaveText("$0.000120");
      await page.getByTestId("filter-status").selectOption("4xx");
      await expect(rows).toHaveCount(2);
      // Newest first: the budget's refusal, then the rate's.
      for (const [i, reason] of ["key_daily_budget", "key_rpm"].entries()) {
        const row = rows.nth(i);
        await expect(row.getByTestId("log-status")).toHaveText("429");
        await expect(row.getByTestId("log-cost")).toHaveText("$0");
        await row.getByTestId("expand").click();
        const detail = page.getByTestId("log-detail");
        await expect(detail).toHaveCount(1);
        await expect(detail).toContainText(t.refusedBy);
        await expect(detail.getByTestId("detail-refused-by")).toHaveText(reason);
        if (i === 0) await screenshot(page, `spend-logs-${locale}`);
        await row.getByTestId("expand").click();
        await expect(detail).toHaveCount(0);
      }

      // The upstream's spend this month against its quota, at the multiplied price.
      await nav(page, t.nav.upstreams);
      await expect(page.getByTestId("upstreams-table").locator("thead")).toContainText(t.upstreamSpend);
      await expect(upRow.getByTestId("upstream-spend")).toHaveText("$0.000240 / $10.00");
      await expect(upRow.getByTestId("upstream-spend").getByRole("meter")).not.toHaveClass(/\bover\b/);
      await screenshot(page, `spend-upstreams-${locale}`);
    } finally {
      await mock.close();
    }
  });
}
