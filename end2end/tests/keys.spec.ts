import { test, expect } from "./fixtures";
import { ADMIN_TOKEN, hydrated, screenshot, signIn } from "./helpers";

const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };

test("create, edit, disable, search and delete a key in the browser", async ({ page, request }) => {
  const up = await request.post("/api/admin/upstreams", {
    headers: auth,
    data: { name: "keys-e2e-upstream", provider: "openai", base_url: "http://127.0.0.1:9/v1", api_key: "sk-e2e-keys-upstream" },
  });
  expect(up.status()).toBe(201);

  await signIn(page, "en");
  await page.getByRole("link", { name: "API keys", exact: true }).click();
  await expect(page).toHaveURL(/\/en\/keys$/);
  await hydrated(page);

  // The dialog opens with the keyboard focus inside it, and Escape closes it.
  await page.getByTestId("new-key").click();
  const dialog = page.getByTestId("key-dialog");
  await expect(dialog).toBeVisible();
  await expect(dialog.locator('input[name="name"]')).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();

  // Saving without a name or an upstream says what is missing, under the field.
  await page.getByTestId("new-key").click();
  await dialog.getByTestId("save").click();
  await expect(dialog.getByTestId("error-name")).toHaveText("Required.");
  await dialog.locator('input[name="name"]').fill("browser key");
  await dialog.locator('textarea[name="description"]').fill("made in the e2e suite");
  // (With a single upstream the form ticks it; other tests may have added more.)
  for (const box of await dialog.locator('input[name="upstream"]').all()) await box.uncheck();
  await dialog.getByTestId("save").click();
  await expect(dialog.getByTestId("error-upstream_ids")).toHaveText("Required.");
  await dialog.getByLabel("keys-e2e-upstream").check();
  await screenshot(page, "keys-dialog-en");
  await dialog.getByTestId("save").click();

  // The new key is shown once, with the warning and a copy button.
  const created = page.getByTestId("new-key-dialog");
  await expect(created).toBeVisible();
  await expect(created).toContainText("You will not see it again");
  const value = await created.getByTestId("new-key-value").inputValue();
  expect(value).toMatch(/^sk-auto-[A-Za-z0-9_-]{43}$/);
  await expect(created.getByTestId("copy-key")).toBeVisible();
  await screenshot(page, "keys-created-en");
  await created.getByTestId("new-key-done").click();
  await expect(created).toBeHidden();
  await expect(page.getByTestId("toast").first()).toContainText("browser key");

  const row = page.getByTestId("key-browser key");
  await expect(row).toContainText("keys-e2e-upstream");
  await expect(row.getByTestId("key-prefix")).toHaveText(`${value.slice(0, 12)}…`);
  await expect(row.getByTestId("key-status")).toHaveText("Active");
  // The server does not allow revealing keys here (ALLOW_KEY_REVEAL is unset): no button.
  await expect(row.getByTestId("reveal")).toHaveCount(0);
  await expect(page.locator("body")).not.toContainText(value);

  const keys = await (await request.get("/api/admin/keys?search=browser", { headers: auth })).json();
  const id = keys.items.find((k: { name: string }) => k.name === "browser key").id;

  // Edit.
  await row.getByTestId("edit").click();
  await expect(dialog.locator('input[name="name"]')).toHaveValue("browser key");
  await dialog.locator('input[name="name"]').fill("browser key renamed");
  await dialog.getByTestId("save").click();
  await expect(dialog).toBeHidden();
  const renamed = page.getByTestId("key-browser key renamed");
  await expect(renamed).toBeVisible();
  expect((await (await request.get(`/api/admin/keys/${id}`, { headers: auth })).json()).name).toBe("browser key renamed");

  // Disable, then enable again.
  await renamed.getByTestId("toggle").click();
  await expect(renamed.getByTestId("key-status")).toHaveText("Disabled");
  expect((await (await request.get(`/api/admin/keys/${id}`, { headers: auth })).json()).is_active).toBe(false);
  await renamed.getByTestId("toggle").click();
  await expect(renamed.getByTestId("key-status")).toHaveText("Active");

  // Search.
  await page.getByTestId("key-search").fill("renamed");
  await expect(page.getByTestId("keys-table").locator("tbody tr")).toHaveCount(1);
  await page.getByTestId("key-search").fill("no key is called this");
  await expect(page.getByTestId("empty-state")).toHaveText("No keys match your search.");
  await page.getByTestId("key-search").fill("");
  await screenshot(page, "keys-en");

  // Delete: Cancel keeps it, Delete removes it.
  await renamed.getByTestId("delete").click();
  const confirm = page.getByTestId("confirm-dialog");
  await expect(confirm).toContainText("Delete the key browser key renamed?");
  await confirm.getByRole("button", { name: "Cancel" }).click();
  await expect(renamed).toBeVisible();
  await renamed.getByTestId("delete").click();
  await confirm.getByTestId("confirm").click();
  await expect(renamed).toHaveCount(0);
  expect((await request.get(`/api/admin/keys/${id}`, { headers: auth })).status()).toBe(404);
});

test("the keys list pages through more keys than fit one page", async ({ page, request }) => {
  const up = await request.post("/api/admin/upstreams", {
    headers: auth,
    data: { name: "paging-e2e-upstream", provider: "openai", base_url: "http://127.0.0.1:9/v1", api_key: "sk-e2e-paging-upstream" },
  });
  const upstreamId = (await up.json()).id;
  for (let i = 0; i < 21; i++) {
    const res = await request.post("/api/admin/keys", {
      headers: auth,
      data: { name: `paging key ${String(i).padStart(2, "0")}`, upstream_ids: [upstreamId] },
    });
    expect(res.status()).toBe(201);
  }
  await signIn(page, "en");
  await page.goto("/en/keys");
  await hydrated(page);
  await page.getByTestId("key-search").fill("paging key");
  await expect(page.getByTestId("page-info")).toHaveText("Page 1 of 2 · 21 in all");
  await expect(page.getByTestId("keys-table").locator("tbody tr")).toHaveCount(20);
  await expect(page.getByTestId("page-prev")).toBeDisabled();
  await page.getByTestId("page-next").click();
  await expect(page.getByTestId("page-info")).toHaveText("Page 2 of 2 · 21 in all");
  await expect(page.getByTestId("keys-table").locator("tbody tr")).toHaveCount(1);
  await expect(page.getByTestId("page-next")).toBeDisabled();
});
