import http from "node:http";
import { AddressInfo } from "node:net";
import { test, expect } from "./fixtures";
import { hydrated, screenshot, signIn } from "./helpers";

/** A webhook receiver on 127.0.0.1 that records the JSON bodies it is sent. */
async function startReceiver(): Promise<{ url: string; bodies: any[]; close: () => Promise<void> }> {
  const bodies: any[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      try {
        bodies.push(JSON.parse(body));
      } catch {
        bodies.push(body);
      }
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook?token=e2e-secret-token`,
    bodies,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

test("add a webhook, send a test alert and see the delivery, in English and in Chinese", async ({ page }) => {
  const receiver = await startReceiver();
  try {
    await signIn(page, "en");
    await page.getByRole("link", { name: "Alerts", exact: true }).click();
    await expect(page).toHaveURL(/\/en\/alerts$/);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Alerts");

    const form = page.getByTestId("webhook-form");
    await form.locator('input[name="name"]').fill("e2e-hook");
    await form.locator('select[name="format"]').selectOption("generic");
    await form.locator('input[name="url"]').fill(receiver.url);
    await form.getByTestId("save-webhook").click();
    await expect(page.getByTestId("toast")).toContainText("Webhook saved");

    const row = page.getByTestId("webhook-e2e-hook");
    await expect(row.getByTestId("webhook-url")).toHaveText(/^http:\/\/127\.0\.0\.1:\d+\/\*\*\*$/);
    await expect(page.locator("body")).not.toContainText("e2e-secret-token");

    await row.getByTestId("send-test").click();
    await expect(row.getByTestId("test-result")).toHaveText("Test alert delivered.");
    expect(receiver.bodies.length).toBe(1);
    expect(receiver.bodies[0].event).toBe("test");
    const delivery = page.getByTestId("delivery").first();
    await expect(delivery).toContainText("e2e-hook");
    await expect(delivery.getByTestId("delivery-status")).toHaveText("Delivered");
    await screenshot(page, "alerts-en");

    await page.goto("/zh/alerts");
    await hydrated(page);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("告警");
    const zhRow = page.getByTestId("webhook-e2e-hook");
    await zhRow.getByTestId("send-test").click();
    await expect(zhRow.getByTestId("test-result")).toHaveText("测试告警已送达。");
    expect(receiver.bodies.length).toBe(2);
    await expect(page.getByTestId("delivery")).toHaveCount(2);
    await expect(page.getByTestId("delivery").first().getByTestId("delivery-status")).toHaveText("已送达");
    await screenshot(page, "alerts-zh");

    // Clean up, so other specs start from an empty alert list.
    await zhRow.getByTestId("delete-webhook").click();
    await zhRow.getByTestId("confirm").click();
    await expect(page.getByTestId("webhook-e2e-hook")).toHaveCount(0);
  } finally {
    await receiver.close();
  }
});
