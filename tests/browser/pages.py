"""Helpers for driving the app's pages, shared by the browser tests.

- the COE editor's autosave: `AUTOSAVE_PROBE` (an init script) and `wait_for_autosave`, so a test
  never clicks Save while an autosave is pending (a version conflict, as it would be for a person);
- the incident page's in-place evidence forms: `open_form`;
- console errors: `assert_no_console_errors`, and `unexpected_errors` for pages whose forms answer
  a 422 by design.
"""

from playwright.sync_api import Page, expect

AUTOSAVE_PROBE = """
window.__autosave = {lastInput: 0, started: 0, inFlight: 0};
document.addEventListener("input", (e) => {
  if (e.target.closest && e.target.closest("#coe-form")) window.__autosave.lastInput = performance.now();
}, true);
document.addEventListener("htmx:beforeRequest", (e) => {
  if (e.detail.elt.id === "coe-form") { window.__autosave.inFlight++; window.__autosave.started = performance.now(); }
});
document.addEventListener("htmx:afterRequest", (e) => {
  if (e.detail.elt.id === "coe-form") window.__autosave.inFlight--;
});
"""
AUTOSAVE_SETTLED = """() => {
  const a = window.__autosave;
  return a && a.inFlight === 0 && (a.lastInput === 0 || a.started > a.lastInput);
}"""


def wait_for_autosave(page: Page) -> int:
    """Wait until the last typing has been autosaved; return the saved version."""
    page.wait_for_function(AUTOSAVE_SETTLED)
    version = int(page.locator("#id_base_version").input_value())
    expect(page.locator("#save-status")).to_contain_text(f"Saved version {version} at")
    return version


def assert_no_console_errors(page: Page) -> None:
    assert page.console_errors == [], "console errors:\n" + "\n".join(page.console_errors)


def unexpected_errors(page: Page) -> list[str]:
    """Console errors but Chromium's line for each form sent back with its errors (a 422, by design)."""
    return [error for error in page.console_errors if "status of 422" not in error]


def open_form(page: Page, section: str, button: str):
    """Click an incident page section's button; the form opens in place and takes the focus."""
    page.locator(f"#evidence-{section}").get_by_role("link", name=button).click()
    form = page.locator(f"#evidence-{section} form[data-evidence-form]")
    expect(form).to_be_visible()
    # The focus moves in once htmx has settled the swap: filling before that, text typed into a later field
    # would follow the focus into the first one.
    expect(form.locator(":focus")).to_have_count(1)
    return form
