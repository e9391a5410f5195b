"""In headless Chromium: an API key's owner signs in, finds, edits and deletes links on "My links",
and signs out. Screenshots go to tests/artifacts/ as test_browser.py's do."""

import re

import requests
from playwright.sync_api import Page, expect

from tests.integration.support import new_key
from tests.integration.test_browser import browser, landing_site, page, shot  # noqa: F401 (fixtures)


def create_with_key(stack, key: str, url: str) -> str:
    response = requests.post(f"{stack.url}/api/v1/links", json={"url": url}, headers={"X-Api-Key": key}, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()["code"]


def sign_in(tab: Page, stack, key: str) -> None:
    tab.goto(f"{stack.url}/links")
    tab.click("#sign-in")
    expect(tab.locator("h1")).to_have_text("Sign in with an API key")
    tab.fill("#key", key)
    shot(tab, "sign-in")
    tab.click("form.sign-in button[type=submit]")
    expect(tab).to_have_url(f"{stack.url}/links")
    expect(tab.locator(".notice")).to_contain_text("Signed in")


def test_a_key_owner_signs_in_edits_and_deletes_a_link_then_signs_out(stack, page, landing_site):  # noqa: F811
    key = new_key(stack, "browser-owner")
    code = create_with_key(stack, key, f"{landing_site}/first")
    other = create_with_key(stack, key, f"{landing_site}/stays-private")
    sign_in(page, stack, key)
    expect(page.locator("#my-links tbody tr")).to_have_count(2)
    expect(page.locator("#my-links tbody tr").first).to_have_attribute("data-code", other)  # newest first
    shot(page, "my-links")

    page.fill("#q", "/FIRST")
    page.click("form.search button[type=submit]")
    expect(page.locator("#my-links tbody tr")).to_have_count(1)
    row = page.locator(f'#my-links tr[data-code="{code}"]')
    row.get_by_role("link", name="Edit").click()

    page.fill("#url", "not a url")
    page.click("form.edit button[type=submit]")
    expect(page.locator("#url-error")).to_be_visible()  # validated as creation is
    page.fill("#url", f"{landing_site}/second")
    page.select_option("#expires_in", "1d")
    shot(page, "link-edit")
    page.click("form.edit button[type=submit]")
    expect(page.locator(".notice")).to_contain_text(f"Saved {code}")
    expect(page.locator(f'#my-links tr[data-code="{code}"] .target')).to_have_text(f"{landing_site}/second")

    page.goto(f"{stack.url}/{code}")
    expect(page).to_have_url(f"{landing_site}/second")

    page.goto(f"{stack.url}/links/{code}")
    page.get_by_role("link", name="Delete…").click()
    expect(page.locator("h1")).to_contain_text("Delete")
    shot(page, "link-delete")
    page.click("#confirm-delete")
    expect(page.locator(".notice")).to_contain_text(f"Deleted {code}")
    expect(page.locator(f'#my-links tr[data-code="{code}"]')).to_have_count(0)
    gone = page.goto(f"{stack.url}/{code}")
    assert gone.status == 410
    expect(page.locator("main")).to_contain_text("deleted by its owner")

    page.goto(f"{stack.url}/links")
    page.click("#sign-out")
    expect(page).to_have_url(f"{stack.url}/")
    assert page.goto(f"{stack.url}/links/{other}").status == 403  # the key's private link again


def test_my_links_come_in_pages(stack, page):  # noqa: F811
    key = new_key(stack, "many-links")
    codes = [create_with_key(stack, key, f"https://paged.example/{n}") for n in range(3)]
    sign_in(page, stack, key)
    page.goto(f"{stack.url}/links?per_page=2")
    expect(page.locator("#my-links tbody tr")).to_have_count(2)
    expect(page.locator(".pages")).to_contain_text("Page 1 of 2")
    page.click("a[rel=next]")
    expect(page.locator("#my-links tbody tr")).to_have_count(1)
    expect(page.locator("#my-links tbody tr")).to_have_attribute("data-code", codes[0])
    assert re.search(r"page=2", page.url)
    bad = page.goto(f"{stack.url}/links?page=zero")
    assert bad.status == 400
    expect(page.locator("main")).to_contain_text("page must be a whole number")


def test_my_links_and_sign_in_fit_a_phone(stack, browser):  # noqa: F811
    key = new_key(stack, "phone")
    code = create_with_key(stack, key, "https://example.com/" + "averyverylongpathsegmentwithnobreaks" * 5)
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    phone = context.new_page()
    sign_in(phone, stack, key)
    for path in ("/links", f"/links/{code}/edit", f"/links/{code}/delete", "/login"):
        phone.goto(f"{stack.url}{path}")
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{path} scrolls sideways"
    phone.goto(f"{stack.url}/links")
    shot(phone, "phone-my-links")
    context.close()
