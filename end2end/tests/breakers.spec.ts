import { test, expect } from "./fixtures";
import { ADMIN_TOKEN, hydrated, screenshot, signIn } from "./helpers";

test("force a circuit breaker open and closed from the browser, in English and in Chinese", async ({ page, request }) => {
  const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  const up = await request.post("/api/admin/upstreams", {
    headers: auth,
    data: { name: "breaker-e2e", provider: "openai", base_url: "http://127.0.0.1:9/v1", api_key: "sk-e2e-breaker-key" },
  });
  expect(up.status()).toBe(201);
  const id = (await up.json()).id;
  const stateOf = async () => (await (await request.get(`/api/admin/circuit-breakers/${id}`, { headers: auth })).json()).state;

  await signIn(page, "en");
  await page.getByRole("link", { name: "Circuit breakers", exact: true }).click();
  await expect(page).toHaveURL(/\/en\/circuit-breakers$/);
  const row = page.getByTestId("breaker-breaker-e2e");
  await expect(row.getByTestId("breaker-state")).toHaveText("Closed");

  await row.getByTestId("force-open").click();
  await expect(row).toContainText("Take this upstream out of rotation");
  await row.getByTestId("confirm").click();
  await expect(page.getByTestId("toast")).toContainText("breaker-e2e");
  await expect(row.getByTestId("breaker-state")).toHaveText("Open");
  await expect(row).toContainText("forced");
  expect(await stateOf()).toBe("open");
  await screenshot(page, "circuit-breakers-en");

  // Cancel leaves it as it is.
  await row.getByTestId("force-close").click();
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(row.getByTestId("breaker-state")).toHaveText("Open");

  await page.goto("/zh/circuit-breakers");
  await hydrated(page);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("熔断器");
  const zhRow = page.getByTestId("breaker-breaker-e2e");
  await expect(zhRow.getByTestId("breaker-state")).toHaveText("打开");
  await zhRow.getByTestId("force-close").click();
  await zhRow.getByTestId("confirm").click();
  await expect(zhRow.getByTestId("breaker-state")).toHaveText("关闭");
  await expect(page.getByTestId("toast")).toContainText("已更新");
  expect(await stateOf()).toBe("closed");
  await screenshot(page, "circuit-breakers-zh");
});
