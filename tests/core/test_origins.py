"""``micropie_core.origins``: strict parsing, and allow-lists that match no more than they say."""

from __future__ import annotations

import pytest

from micropie_core.origins import HostAllowList, OriginAllowList, normalize_origin, split_host


@pytest.mark.parametrize(("given", "expected"), [
    ("https://example.com", "https://example.com"),
    ("HTTPS://Example.COM:443", "https://example.com"),
    ("http://example.com:80", "http://example.com"),
    ("http://example.com:8080", "http://example.com:8080"),
    ("http://example.com:08080", "http://example.com:8080"),
    ("http://[2001:DB8::1]:8080", "http://[2001:db8::1]:8080"),
    ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
])
def test_normalize_origin(given: str, expected: str) -> None:
    assert normalize_origin(given) == expected


@pytest.mark.parametrize("given", [
    "null", "", "example.com", "https://", "https://example.com/", "https://example.com/path",
    "https://user@example.com", "https://example.com?x", "https://example.com#x",
    "https://exa mple.com", "https://example.com:99999", "https://example.com.",
    "https://.example.com", "https://a..example.com", "http://[::g]", "https://example.com:x",
    "javascript://example.com\\@evil.com",
])
def test_normalize_origin_refuses_what_is_not_an_origin(given: str) -> None:
    assert normalize_origin(given) is None


def test_split_host() -> None:
    assert split_host("Example.COM:8080") == ("example.com", 8080)
    assert split_host("example.com") == ("example.com", None)
    assert split_host("[::1]:80") == ("[::1]", 80)
    for bad in ("", "a b", "example.com/x", "user@example.com", "example.com:", "::1",
                "example.com:70000", "example.com."):
        assert split_host(bad) is None, bad


def test_host_patterns_match_subdomains_of_that_domain_only() -> None:
    hosts = HostAllowList(["example.com", "*.example.org"])
    assert hosts.allows("example.com")
    assert hosts.allows("a.example.org") and hosts.allows("a.b.example.org")
    for other in ("www.example.com", "example.org", "evil-example.org", "example.org.evil.net",
                  "aexample.org", "evil.com"):
        assert not hosts.allows(other), other
    assert HostAllowList(["*"]).allows("anything.test")


@pytest.mark.parametrize("bad", ["", "example.com:80", "*example.com", "a.*.example.com",
                                 "https://example.com", "*.[::1]", "exa mple.com"])
def test_host_allow_list_refuses_what_it_cannot_match_exactly(bad: str) -> None:
    with pytest.raises(ValueError, match="not a host name or pattern"):
        HostAllowList([bad])


def test_origin_patterns_fix_scheme_port_and_domain() -> None:
    origins = OriginAllowList(["https://app.example.net", "https://*.example.com",
                               "http://*.local.test:8080"])
    allowed = ["https://app.example.net", "https://a.example.com", "https://a.b.example.com",
               "http://x.local.test:8080"]
    refused = ["https://example.com", "https://evil-example.com", "https://example.com.evil.net",
               "http://a.example.com", "https://a.example.com:8443", "https://aexample.com",
               "http://x.local.test", "https://app.example.net:444", "https://[::1]"]
    for origin in allowed:
        assert origins.allows(origin), origin
    for origin in refused:
        assert not origins.allows(origin), origin


@pytest.mark.parametrize("bad", ["example.com", "https://*", "https://*.", "https://a.*.com",
                                 "https://*.example.com/", "https://ex(a|b)mple.com",
                                 "https://*.[::1]", "*.example.com", "null"])
def test_origin_allow_list_refuses_patterns_it_cannot_match_exactly(bad: str) -> None:
    with pytest.raises(ValueError):
        OriginAllowList([bad])
