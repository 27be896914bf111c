import { test, expect } from "./fixtures";
import type { Page } from "@playwright/test";
import { ADMIN_TOKEN, hydrated, screenshot, signIn } from "./helpers";
import { startMock } from "./mock-upstream";

/** Reloads until the dashboard shows `n` requests (the log writer stores rows within 50 ms). */
async function expectRequests(page: Page, n: number) {
  await expect(async () => {
    await page.reload();
    await hydrated(page);
    await expect(page.getByTestId("stat-requests")).toHaveText(String(n), { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
}

test("traffic sent through the gateway shows on the dashboard, in English and in Chinese", async ({ page, request }) => {
  const mock = await startMock();
  try {
    const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };
    const up = await request.post("/api/admin/upstreams", {
      headers: auth,
      data: { name: "e2e-upstream", provider: "openai", base_url: mock.url, api_key: "sk-e2e-upstream-key", allowed_models: ["e2e-model"] },
    });
    expect(up.status()).toBe(201);
    const upstream = await up.json();
    const created = await request.post("/api/admin/keys", {
      headers: auth,
      data: { name: "dashboard e2e key", upstream_ids: [upstream.id] },
    });
    expect(created.status()).toBe(201);
    const key = (await created.json()).key_value;
    for (let i = 0; i < 3; i++) {
      const res = await request.post("/v1/chat/completions", {
        headers: { Authorization: `Bearer ${key}` },
        data: { model: "e2e-model", messages: [{ role: "user", content: "hi" }] },
      });
      expect(res.status()).toBe(200);
    }

    await signIn(page, "en");
    await expectRequests(page, 3);
    await expect(page.getByTestId("empty-state")).toHaveCount(0);
    await expect(page.getByTestId("top-keys")).toContainText("dashboard e2e key");
    await expect(page.getByTestId("top-upstreams")).toContainText("e2e-upstream");
    await expect(page.getByTestId("top-models")).toContainText("e2e-model");
    await expect(page.getByTestId("requests-chart").locator("rect")).not.toHaveCount(0);
    await expect(page.getByTestId("range-today")).toHaveAttribute("aria-pressed", "true");
    await screenshot(page, "dashboard-traffic-en");

    await page.getByTestId("range-7d").click();
    await expect(page.getByTestId("range-7d")).toHaveAttribute("aria-pressed", "true");
    await expect(page.getByTestId("requests-chart")).toHaveAttribute("data-buckets", "7");
    await expect(page.getByTestId("stat-requests")).toHaveText("3");
    await page.getByTestId("range-30d").click();
    await expect(page.getByTestId("requests-chart")).toHaveAttribute("data-buckets", "30");
    await expect(page.getByTestId("top-keys")).toContainText("dashboard e2e key");

    await page.goto("/zh");
    await hydrated(page);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("仪表盘");
    await expect(page.getByTestId("range-7d")).toHaveText("7 天");
    await expect(page.getByTestId("stat-requests")).toHaveText("3");
    await expect(page.getByTestId("top-keys")).toContainText("密钥排行");
    await expect(page.getByTestId("top-models")).toContainText("e2e-model");
    await screenshot(page, "dashboard-traffic-zh");
  } finally {
    await mock.close();
  }
});
