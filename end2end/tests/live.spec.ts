import { test, expect } from "./fixtures";
import { ADMIN_TOKEN, hydrated, screenshot, signIn } from "./helpers";
import { startMock } from "./mock-upstream";

// The logs page's live view, once per language: Live on, a slow stream through the gateway
// shows in the In flight panel with its elapsed time growing, and when it ends its row appears
// among the new rows and it leaves the panel.

const text = {
  en: { logs: "Request logs", live: "Live", inFlight: "In flight", nothing: "Nothing in flight right now.", newRows: "New since Live was turned on" },
  zh: { logs: "请求日志", live: "实时", inFlight: "进行中", nothing: "当前没有进行中的请求。", newRows: "开启实时后的新请求" },
};

const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };

for (const locale of ["en", "zh"] as const) {
  test(`live view: a stream in flight, then its row (${locale})`, async ({ page, request }) => {
    const t = text[locale];
    // 10 chunks, 500 ms apart: about 5 s in flight.
    const mock = await startMock({ stream: { events: 10, delayMs: 500 } });
    try {
      const up = await request.post("/api/admin/upstreams", {
        headers: auth,
        data: { name: `live-up-${locale}`, provider: "openai", base_url: mock.url, api_key: "sk-e2e-live", allowed_models: ["live-model"] },
      });
      expect(up.status()).toBe(201);
      const created = await request.post("/api/admin/keys", {
        headers: auth,
        data: { name: `live key ${locale}`, upstream_ids: [(await up.json()).id] },
      });
      expect(created.status()).toBe(201);
      const key = (await created.json()).key_value;

      await signIn(page, locale);
      await page.getByRole("navigation").getByRole("link", { name: t.logs, exact: true }).click();
      await expect(page).toHaveURL(new RegExp(`/${locale}/logs$`));
      await hydrated(page);
      await page.getByTestId("filter-key").selectOption({ label: `live key ${locale}` });

      await page.getByLabel(t.live, { exact: true }).check();
      await expect(page.getByTestId("live-toggle")).toBeChecked();
      const panel = page.getByTestId("in-flight-panel");
      await expect(panel.getByRole("heading", { name: t.inFlight })).toBeVisible();
      await expect(panel.getByTestId("in-flight-empty")).toHaveText(t.nothing);
      await expect(page.getByTestId("live-rows").getByRole("heading", { name: t.newRows })).toBeVisible();

      const stream = request.post("/v1/chat/completions", {
        headers: { Authorization: `Bearer ${key}` },
        data: { model: "live-model", stream: true, messages: [{ role: "user", content: "hi" }] },
      });
      const row = panel.getByTestId("in-flight-row");
      await expect(row).toHaveCount(1);
      await expect(row.getByTestId("in-flight-model")).toHaveText("live-model");
      await expect(row.getByTestId("in-flight-upstream")).toHaveText(`live-up-${locale}`);
      await expect(row.getByTestId("in-flight-instance")).not.toBeEmpty();
      await expect(row).toContainText(`live key ${locale}`);
      const elapsed = async () => Number(await row.getByTestId("in-flight-elapsed").getAttribute("data-elapsed-ms"));
      const first = await elapsed();
      // The time keeps running while the stream does: a stuck stream would show just this.
      await expect.poll(elapsed, { timeout: 4_000 }).toBeGreaterThanOrEqual(first + 1_500);
      await screenshot(page, `logs-live-in-flight-${locale}`);

      const answer = await stream;
      expect(answer.status()).toBe(200);
      expect(await answer.text()).toContain("[DONE]");
      const written = page.getByTestId("live-rows").getByTestId("log-row");
      await expect(written).toHaveCount(1);
      await expect(written.getByTestId("log-model")).toHaveText("live-model");
      await expect(written.getByTestId("log-status")).toHaveText("200");
      await expect(row).toHaveCount(0);
      await expect(panel.getByTestId("in-flight-empty")).toBeVisible();
      await screenshot(page, `logs-live-row-${locale}`);

      // Off again: the panel goes and the list (read again) has the row.
      await page.getByLabel(t.live, { exact: true }).uncheck();
      await expect(panel).toHaveCount(0);
      await expect(page.getByTestId("logs-table").getByTestId("log-row")).toHaveCount(1);
    } finally {
      await mock.close();
    }
  });
}
