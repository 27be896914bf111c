import { test, expect } from "./fixtures";
import type { APIRequestContext } from "@playwright/test";
import { ADMIN_TOKEN, hydrated, screenshot, signIn } from "./helpers";
import { startMock } from "./mock-upstream";

const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };

async function chat(request: APIRequestContext, key: string, model: string) {
  return request.post("/v1/chat/completions", {
    headers: { Authorization: `Bearer ${key}` },
    data: { model, messages: [{ role: "user", content: "hi" }] },
  });
}

test("filter the request logs, expand a row's failover history, and auto-refresh", async ({ page, request }) => {
  const mock = await startMock();
  try {
    // A dead upstream tried first, so the first request fails over to the mock.
    const dead = await request.post("/api/admin/upstreams", {
      headers: auth,
      data: { name: "logs-dead", provider: "openai", base_url: "http://127.0.0.1:9/v1", api_key: "sk-e2e-logs-dead", priority: 0, allowed_models: ["logs-model"] },
    });
    expect(dead.status()).toBe(201);
    const live = await request.post("/api/admin/upstreams", {
      headers: auth,
      data: { name: "logs-live", provider: "openai", base_url: mock.url, api_key: "sk-e2e-logs-live", priority: 1, allowed_models: ["logs-model", "other-model"] },
    });
    expect(live.status()).toBe(201);
    const ids = [(await dead.json()).id, (await live.json()).id];
    const created = await request.post("/api/admin/keys", { headers: auth, data: { name: "logs key", upstream_ids: ids } });
    const key = (await created.json()).key_value;
    expect((await chat(request, key, "logs-model")).status()).toBe(200);
    expect((await chat(request, key, "other-model")).status()).toBe(200);
    expect((await chat(request, key, "no-such-model")).status()).toBeGreaterThanOrEqual(400);

    await signIn(page, "en");
    await page.getByRole("link", { name: "Request logs", exact: true }).click();
    await expect(page).toHaveURL(/\/en\/logs$/);
    await hydrated(page);

    await page.getByTestId("filter-key").selectOption({ label: "logs key" });
    const rows = page.getByTestId("log-row");
    await expect(rows).toHaveCount(3);

    await page.getByTestId("filter-status").selectOption("2xx");
    await expect(rows).toHaveCount(2);
    await page.getByTestId("filter-status").selectOption("4xx");
    await expect(rows).toHaveCount(1);
    await expect(rows.first().getByTestId("log-model")).toHaveText("no-such-model");
    await page.getByTestId("filter-status").selectOption("5xx");
    await expect(page.getByTestId("empty-state")).toBeVisible();
    await page.getByTestId("filter-status").selectOption("");

    await page.getByTestId("filter-model").fill("logs-model");
    await page.getByTestId("filter-model").press("Enter");
    await expect(rows).toHaveCount(1);
    await page.getByTestId("filter-upstream").selectOption({ label: "logs-live" });
    await expect(rows).toHaveCount(1);
    await page.getByTestId("filter-range").selectOption("1");
    await expect(rows).toHaveCount(1);

    // The expanded row shows the models, the routing and the failover history.
    await rows.first().getByTestId("expand").click();
    const detail = page.getByTestId("log-detail");
    await expect(detail.getByTestId("detail-model-requested")).toHaveText("logs-model");
    await expect(detail.getByTestId("detail-model-sent")).toHaveText("logs-model");
    await expect(detail.getByTestId("failover-history")).toContainText("logs-dead");
    await expect(detail.getByTestId("failover-history")).toContainText("connect");
    await expect(rows.first().getByTestId("expand")).toHaveAttribute("aria-expanded", "true");
    await screenshot(page, "logs-en");

    // Auto-refresh shows a new request without a reload.
    await page.getByTestId("clear-filters").click();
    await page.getByTestId("filter-key").selectOption({ label: "logs key" });
    await expect(rows).toHaveCount(3);
    await page.getByTestId("auto-refresh").selectOption("5");
    expect((await chat(request, key, "other-model")).status()).toBe(200);
    await expect(rows).toHaveCount(4, { timeout: 15_000 });
  } finally {
    await mock.close();
  }
});
