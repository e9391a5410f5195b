"""Pure validation of what an owner sends to manage links: edits (merge patches) and list queries."""

from datetime import datetime, timedelta, timezone

import pytest

from shortstack.validation import MAX_PER_PAGE, ListRequest, ValidationError, parse_link_changes, parse_list_request

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_an_edit_changes_only_the_fields_it_names():
    assert parse_link_changes({}, NOW) == {}
    assert parse_link_changes({"public_stats": False}, NOW) == {"public_stats": False}
    changes = parse_link_changes({"url": "https://EXAMPLE.com/ä", "expires_at": "2026-02-01T00:00:00Z"}, NOW)
    assert changes == {"url": "https://example.com/%C3%A4", "expires_at": NOW + timedelta(days=31)}


def test_a_null_expiry_means_never():
    assert parse_link_changes({"expires_at": None}, NOW) == {"expires_at": None}


@pytest.mark.parametrize("body, field", [
    ({"url": None}, "url"), ({"url": "ftp://example.com/"}, "url"), ({"public_stats": None}, "public_stats"),
    ({"public_stats": "yes"}, "public_stats"), ({"expires_at": "2025-01-01T00:00:00Z"}, "expires_at"),
    ({"alias": "new"}, "alias"), ({"code": "new"}, "code"), ([], "body"), ("url", "body"),
])
def test_an_edit_is_refused_as_a_new_link_would_be(body, field):
    with pytest.raises(ValidationError) as refused:
        parse_link_changes(body, NOW)
    assert refused.value.field == field


def test_an_edit_refuses_the_shortener_itself_and_private_targets_when_asked():
    with pytest.raises(ValidationError):
        parse_link_changes({"url": "https://sho.rt/abc"}, NOW, own_address="sho.rt:443")
    with pytest.raises(ValidationError):
        parse_link_changes({"url": "http://10.0.0.1/"}, NOW, block_private=True)


def test_a_list_query_has_defaults_and_bounds():
    assert parse_list_request({}) == ListRequest(search="", page=1, per_page=20)
    assert parse_list_request({"q": "  Example ", "page": "3", "per_page": str(MAX_PER_PAGE)}) == \
        ListRequest(search="Example", page=3, per_page=MAX_PER_PAGE)


@pytest.mark.parametrize("args, field", [
    ({"page": "0"}, "page"), ({"page": "-2"}, "page"), ({"page": "1.5"}, "page"), ({"page": "٣"}, "page"),
    ({"page": "1000001"}, "page"), ({"per_page": "0"}, "per_page"), ({"per_page": str(MAX_PER_PAGE + 1)}, "per_page"),
    ({"q": "x" * 201}, "q"), ({"q": "a\x00b"}, "q"),
])
def test_a_bad_list_query_names_the_parameter(args, field):
    with pytest.raises(ValidationError) as refused:
        parse_list_request(args)
    assert refused.value.field == field
