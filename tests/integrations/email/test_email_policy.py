"""Whether an auto email may go out, over every combination of the facts that decide it."""

from __future__ import annotations

import itertools

import pytest

from integrations.email.policy import (
    AutoEmailFacts,
    EmailConsent,
    RefusalReason,
    auto_email_decision,
)

COMBINATIONS = list(
    itertools.product([False, True], [False, True], [False, True], list(EmailConsent), [False, True])
)


def test_an_email_to_an_existing_customer_is_refused() -> None:
    facts = AutoEmailFacts(
        is_existing_customer=True,
        is_partner_referral=False,
        is_policy_sensitive=False,
        consent=EmailConsent.GRANTED,
    )

    decision = auto_email_decision(facts)

    assert not decision.allowed
    assert decision.reasons == (RefusalReason.EXISTING_CUSTOMER,)


@pytest.mark.parametrize(("customer", "partner", "sensitive", "consent", "explicit"), COMBINATIONS)
def test_allowed_exactly_when_nothing_forbids_it(
    customer: bool, partner: bool, sensitive: bool, consent: EmailConsent, explicit: bool
) -> None:
    facts = AutoEmailFacts(
        is_existing_customer=customer,
        is_partner_referral=partner,
        is_policy_sensitive=sensitive,
        consent=consent,
    )

    decision = auto_email_decision(facts, require_explicit_consent=explicit)

    consent_ok = consent is EmailConsent.GRANTED or (consent is EmailConsent.NOT_RECORDED and not explicit)
    assert decision.allowed is (not customer and not partner and not sensitive and consent_ok)
    assert decision.allowed is (decision.reasons == ())
    assert (RefusalReason.EXISTING_CUSTOMER in decision.reasons) is customer
    assert (RefusalReason.PARTNER_REFERRAL in decision.reasons) is partner
    assert (RefusalReason.POLICY_SENSITIVE in decision.reasons) is sensitive
    assert (RefusalReason.CONSENT_FORBIDS in decision.reasons) is (
        consent in (EmailConsent.WITHDRAWN, EmailConsent.DO_NOT_CONTACT)
    )


def test_every_combination_is_covered() -> None:
    # 2 customer × 2 partner × 2 sensitive × 4 consent states × 2 consent modes.
    assert len(COMBINATIONS) == 64


@pytest.mark.parametrize("consent", [EmailConsent.WITHDRAWN, EmailConsent.DO_NOT_CONTACT])
def test_explicit_consent_never_overrides_a_withdrawal(consent: EmailConsent) -> None:
    facts = AutoEmailFacts(
        is_existing_customer=False, is_partner_referral=False, is_policy_sensitive=False, consent=consent
    )

    assert auto_email_decision(facts).reasons == (RefusalReason.CONSENT_FORBIDS,)


def test_unrecorded_consent_is_enough_unless_opt_in_is_required() -> None:
    facts = AutoEmailFacts(
        is_existing_customer=False,
        is_partner_referral=False,
        is_policy_sensitive=False,
        consent=EmailConsent.NOT_RECORDED,
    )

    assert auto_email_decision(facts).allowed
    assert auto_email_decision(facts, require_explicit_consent=True).reasons == (
        RefusalReason.CONSENT_NOT_RECORDED,
    )
