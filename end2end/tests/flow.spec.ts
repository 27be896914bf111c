import { test, expect } from "./fixtures";
import type { Page } from "@playwright/test";
import { hydrated, screenshot, signIn } from "./helpers";
import { startMock } from "./mock-upstream";

const text = {
  en: { upstreams: "Upstreams", keys: "API keys", logs: "Request logs", dashboard: "Dashboard", connected: "Connected in" },
  zh: { upstreams: "上游", keys: "API 密钥", logs: "请求日志", dashboard: "仪表盘", connected: "连接成功" },
};

async function nav(page: Page, name: string) {
  await page.getByRole("navigation").getByRole("link", { name, exact: true }).click();
  await hydrated(page);
}

// The done-when, once per language: a new admin adds an upstream and a key, sends a
// request with the key, and finds it on the dashboard and in the logs, all in the browser.
for (const locale of ["en", "zh"] as const) {
  test(`a new admin's first request, end to end (${locale})`, async ({ page, request }) => {
    const t = text[locale];
    const mock = await startMock();
    const upstreamName = `flow-upstream-${locale}`;
    const keyName = `flow key ${locale}`;
    try {
      await signIn(page, locale);

      await nav(page, t.upstreams);
      await page.getByTestId("new-upstream").click();
      const form = page.getByTestId("upstream-form");
      await form.locator('input[name="name"]').fill(upstreamName);
      await form.locator('input[name="base_url"]').fill(mock.url);
      await form.locator('input[name="api_key"]').fill("sk-e2e-flow-upstream-key");
      await form.locator('textarea[name="allowed_models"]').fill(`flow-model-${locale}`);
      await form.getByTestId("test-form").click();
      await expect(form.getByTestId("test-result")).toContainText(t.connected);
      await form.getByTestId("save").click();
      await expect(page.getByTestId(`upstream-${upstreamName}`)).toBeVisible();
      await screenshot(page, `upstreams-${locale}`);

      await nav(page, t.keys);
      await page.getByTestId("new-key").click();
      const dialog = page.getByTestId("key-dialog");
      await dialog.locator('input[name="name"]').fill(keyName);
      await dialog.getByLabel(upstreamName).check();
      await dialog.getByTestId("save").click();
      const key = await page.getByTestId("new-key-value").inputValue();
      await screenshot(page, `keys-created-${locale}`);
      await page.getByTestId("new-key-done").click();
      await expect(page.getByTestId(`key-${keyName}`)).toBeVisible();
      await screenshot(page, `keys-${locale}`);

      const res = await request.post("/v1/chat/completions", {
        headers: { Authorization: `Bearer ${key}` },
        data: { model: `flow-model-${locale}`, messages: [{ role: "user", content: "hi" }] },
      });
      expect(res.status()).toBe(200);

      await nav(page, t.dashboard);
      await expect(async () => {
        await page.reload();
        await hydrated(page);
        await expect(page.getByTestId("top-keys")).toContainText(keyName, { timeout: 1_000 });
      }).toPass({ timeout: 20_000 });
      await expect(page.getByTestId("top-upstreams")).toContainText(upstreamName);
      await expect(page.getByTestId("requests-chart").locator("rect")).not.toHaveCount(0);
      await expect(page.getByTestId("requests-chart")).toContainText(upstreamName);
      await screenshot(page, `dashboard-${locale}`);

      await nav(page, t.logs);
      await page.getByTestId("filter-key").selectOption({ label: keyName });
      const rows = page.getByTestId("log-row");
      await expect(rows).toHaveCount(1);
      await expect(rows.first().getByTestId("log-model")).toHaveText(`flow-model-${locale}`);
      await expect(rows.first().getByTestId("log-status")).toHaveText("200");
      await expect(rows.first()).toContainText(upstreamName);
      await rows.first().getByTestId("expand").click();
      await expect(page.getByTestId("log-detail")).toBeVisible();
      await screenshot(page, `logs-${locale}`);

      await nav(page, locale === "en" ? "Circuit breakers" : "熔断器");
      await expect(page.getByTestId(`breaker-${upstreamName}`)).toBeVisible();
      await screenshot(page, `circuit-breakers-${locale}`);
    } finally {
      await mock.close();
    }
  });
}

test("every page fits a 390 px wide screen", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page, "en");
  for (const path of ["", "/keys", "/upstreams", "/logs", "/circuit-breakers"]) {
    await page.goto(`/en${path}`);
    await hydrated(page);
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `${path || "/"} scrolls sideways`).toBeLessThanOrEqual(0);
    await screenshot(page, `phone${path.replace("/", "-") || "-dashboard"}-en`);
  }
  await page.goto("/en/keys");
  await hydrated(page);
  await page.getByTestId("new-key").click();
  await expect(page.getByTestId("key-dialog")).toBeVisible();
  const box = await page.getByTestId("key-dialog").boundingBox();
  expect(box!.width).toBeLessThanOrEqual(390);
  await screenshot(page, "phone-key-dialog-en");
});
