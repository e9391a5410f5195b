from datetime import datetime, timedelta, timezone

import pytest

from shortstack.validation import ValidationError, looks_like_code, parse_new_link

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def test_minimal_link_is_accepted():
    new = parse_new_link({"url": "https://example.com/a?b=c"}, NOW)
    assert (new.url, new.alias, new.expires_at) == ("https://example.com/a?b=c", None, None)


def test_alias_and_expiry_are_kept():
    new = parse_new_link({"url": "http://example.com", "alias": "My_Link-1", "expires_at": "2027-01-01T00:00:00Z"}, NOW)
    assert new.alias == "My_Link-1"
    assert new.expires_at == datetime(2027, 1, 1, tzinfo=timezone.utc)


def test_international_url_becomes_ascii_for_the_location_header():
    assert parse_new_link({"url": "https://例え.jp/パス"}, NOW).url == "https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9"


@pytest.mark.parametrize(
    "body, field, words",
    [
        ([], "body", "JSON object"),
        ({}, "url", "required"),
        ({"url": 5}, "url", "string"),
        ({"url": "   "}, "url", "required"),
        ({"url": "ftp://example.com"}, "url", "http"),
        ({"url": "javascript:alert(1)"}, "url", "http"),
        ({"url": "http://"}, "url", "http"),
        ({"url": "example.com"}, "url", "http"),
        ({"url": "https://"}, "url", "http"),
        ({"url": "https://exa mple.com"}, "url", "spaces"),
        ({"url": "https://example.com/\x00"}, "url", "control"),
        ({"url": "https://example.com:99999/"}, "url", "not a valid URL"),
        ({"url": "https://example.com/" + "a" * 2100}, "url", "longer than 2048"),
        ({"url": "https://sho.rt/abc"}, "url", "itself"),
        ({"url": "https://example.com", "alias": "ab"}, "alias", "3 to 32"),
        ({"url": "https://example.com", "alias": "a" * 33}, "alias", "3 to 32"),
        ({"url": "https://example.com", "alias": "has space"}, "alias", "letters"),
        ({"url": "https://example.com", "alias": "API"}, "alias", "reserved"),
        ({"url": "https://example.com", "alias": "healthz"}, "alias", "reserved"),
        ({"url": "https://example.com", "alias": 7}, "alias", "string"),
        ({"url": "https://example.com", "expires_at": "tomorrow"}, "expires_at", "ISO 8601"),
        ({"url": "https://example.com", "expires_at": "2027-01-01T00:00:00Z\u0000garbage"}, "expires_at", "ISO 8601"),
        ({"url": "https://example.com", "expires_at": "2027-W01-1T00:00Z"}, "expires_at", "ISO 8601"),
        ({"url": "https://example.com", "expires_at": "2027-001T00:00:00Z"}, "expires_at", "ISO 8601"),
        ({"url": "https://example.com", "expires_at": "２０２７-01-01T00:00:00Z"}, "expires_at", "ISO 8601"),
        ({"url": "https://example.com", "expires_at": "2027-01-01T00:00:00"}, "expires_at", "time zone"),
        ({"url": "https://example.com", "expires_at": "2020-01-01T00:00:00Z"}, "expires_at", "future"),
        ({"url": "https://example.com", "expires_at": "2099-01-01T00:00:00Z"}, "expires_at", "ten years"),
        ({"url": "https://example.com", "expires_at": 1}, "expires_at", "string"),
        ({"url": "https://example.com", "owner": "me"}, "owner", "Unknown field"),
        ({"url": "https://user:secret@example.com/private"}, "url", "user name or password"),
        ({"url": "https://trusted.example@attacker.example/"}, "url", "user name or password"),
        ({"url": "https://:secret@example.com/"}, "url", "user name or password"),
        ({"url": "https://user%40x:p%3Aw@example.com/"}, "url", "user name or password"),
        ({"url": "http://a@b@example.com/"}, "url", "user name or password"),
    ],
)
def test_bad_input_names_the_field_and_says_why(body, field, words):
    with pytest.raises(ValidationError) as err:
        parse_new_link(body, NOW, own_address="sho.rt:443")
    assert err.value.field == field
    assert words in err.value.detail


@pytest.mark.parametrize("url", ["https://sho.rt:443/x", "http://sho.rt/x", "https://SHO.RT./x", "https://sho%2Ert/x",
                                 "https://user@sho.rt/x", "http://sho.rt:443/x"])
def test_own_host_is_refused_however_it_is_written(url):
    with pytest.raises(ValidationError, match="itself"):
        parse_new_link({"url": url}, NOW, own_address="sho.rt:443")


@pytest.mark.parametrize("url", ["http://localhost:8080/x", "http://127.1:8080/", "http://127%2e0%2e0%2e1:8080/",
                                 "http://[::1]:8080/", "http://app.localhost:8080/", "http://LOCALHOST.:8080/"])
def test_a_shortener_on_this_machine_refuses_every_name_of_this_machine(url):
    with pytest.raises(ValidationError, match="itself"):
        parse_new_link({"url": url}, NOW, own_address="localhost:8080")


@pytest.mark.parametrize("url, own", [("https://sub.sho.rt/x", "sho.rt:443"), ("https://sho.rt:8443/x", "sho.rt:443"),
                                      ("http://localhost:3000/x", "localhost:8080"),
                                      ("http://127.0.0.1:3000/x", "127.0.0.1:8080"),
                                      ("http://10.0.0.1/", "localhost:80")])
def test_other_services_are_not_the_shortener(url, own):
    assert parse_new_link({"url": url}, NOW, own_address=own).url == url


@pytest.mark.parametrize("url, stored", [
    ("http://127%2e0%2e0%2e1/", "http://127.0.0.1/"),
    ("HTTP://Example.COM./a b", None),  # spaces are refused before parsing
    ("http://example.com\\@10.0.0.1/", "http://example.com/@10.0.0.1/"),
    ("https://example.com:443/p?q=ä#f", "https://example.com/p?q=%C3%A4#f"),
])
def test_the_stored_target_is_what_a_browser_would_visit(url, stored):
    if stored is None:
        with pytest.raises(ValidationError):
            parse_new_link({"url": url}, NOW)
    else:
        assert parse_new_link({"url": url}, NOW).url == stored


@pytest.mark.parametrize("url, stored", [("https://@example.com/a", "https://example.com/a"),
                                         ("https://:@example.com/a", "https://example.com/a"),
                                         ("https://example.com/@user", "https://example.com/@user"),
                                         ("https://example.com/?to=a@b.example", "https://example.com/?to=a@b.example")])
def test_an_empty_userinfo_or_an_at_sign_after_the_host_is_no_credential(url, stored):
    assert parse_new_link({"url": url}, NOW).url == stored


def test_expiry_just_inside_ten_years_is_fine():
    expires = (NOW + timedelta(days=3649)).isoformat()
    assert parse_new_link({"url": "https://example.com", "expires_at": expires}, NOW).expires_at is not None


@pytest.mark.parametrize("value, ok", [("abc1234", True), ("my-alias_2", True), ("", False), ("a/b", False),
                                       ("a.b", False), ("x" * 33, False), ("ünï", False)])
def test_code_shape(value, ok):
    assert looks_like_code(value) is ok


@pytest.mark.parametrize("url", ["http://127.0.0.1/admin", "http://[::1]:8080/", "http://10.0.0.5/", "http://192.168.1.1/",
                                 "http://169.254.169.254/latest/meta-data", "http://localhost:3000/",
                                 "http://printer.local/", "http://db.internal/", "http://0x7f000001/",
                                 "http://2130706433/", "http://127.1/", "http://0.0.0.0/", "http://[fe80::1]/",
                                 # written the ways a browser still reads as a private address
                                 "http://127%2e0%2e0%2e1/", "http://192%2E168%2E1%2E1/", "http://127.0.0.1./",
                                 "http://0177.0.0.1/", "http://localhost.localdomain/", "http://LocalHost./",
                                 "http://127.0.0.1.nip.io/", "http://10-0-0-1.sslip.io/", "http://app.lvh.me/",
                                 "http://[64:ff9b::7f00:1]/", "http://[::ffff:192.168.0.1]/", "http://[2002:a00:1::]/",
                                 "http://[64:ff9b::c0a8:101]/"])
def test_private_targets_are_refused_when_configured(url):
    assert parse_new_link({"url": url}, NOW).url  # allowed by default
    with pytest.raises(ValidationError, match="private or local"):
        parse_new_link({"url": url}, NOW, block_private=True)


@pytest.mark.parametrize("url", ["https://example.com/", "http://8.8.8.8/", "https://notlocalhost.example/",
                                 "http://[2606:4700::1111]/", "http://8.8.8.8.nip.io/", "https://v1-2-3.example/",
                                 "http://[64:ff9b::808:808]/", "https://release-2026.10.1.5.example/"])
def test_public_targets_pass_the_private_check(url):
    assert parse_new_link({"url": url}, NOW, block_private=True).url == url


@pytest.mark.parametrize("url", ["https://a..b/", "https://.example.com/", "https://example..com/",
                                 f"https://{'a' * 64}.com/", "https://-x.com/", "https://x-.example/",
                                 f"https://{'a.' * 127}com/"])
def test_a_host_no_resolver_accepts_is_refused(url):
    with pytest.raises(ValidationError, match="not a valid domain name"):
        parse_new_link({"url": url}, datetime.now(timezone.utc))


@pytest.mark.parametrize("url", ["https://_dmarc.example.com/", "https://xn--bcher-kva.de/", "https://[::1]:8080/",
                                 "https://1.2.3.4/", f"https://{'a' * 63}.com/", "https://example.com./"])
def test_hosts_resolvers_accept_stay_accepted(url):
    assert parse_new_link({"url": url}, datetime.now(timezone.utc)).url
