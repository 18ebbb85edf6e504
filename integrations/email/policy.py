"""Whether LeadOps may send an automatic email to a lead at all: a pure function of the lead's facts.

Any one of these stops it: the lead's company is already a customer (their account team talks to them),
the lead came through a partner (the partner owns the first contact), the lead is flagged policy-sensitive
(legal, press, competitors, regulated cases: a person writes), or the person's consent forbids email.
Consent that was never recorded does not forbid by default (they wrote to us first); an installation that
needs opt-in passes `require_explicit_consent=True`.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class EmailConsent(StrEnum):
    GRANTED = "granted"
    NOT_RECORDED = "not_recorded"
    WITHDRAWN = "withdrawn"
    DO_NOT_CONTACT = "do_not_contact"


class RefusalReason(StrEnum):
    EXISTING_CUSTOMER = "existing_customer"
    PARTNER_REFERRAL = "partner_referral"
    POLICY_SENSITIVE = "policy_sensitive"
    CONSENT_FORBIDS = "consent_forbids"
    CONSENT_NOT_RECORDED = "consent_not_recorded"


class AutoEmailFacts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    is_existing_customer: bool
    is_partner_referral: bool
    is_policy_sensitive: bool
    consent: EmailConsent


class AutoEmailDecision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    allowed: bool
    reasons: tuple[RefusalReason, ...]


def auto_email_decision(
    facts: AutoEmailFacts, *, require_explicit_consent: bool = False
) -> AutoEmailDecision:
    """Allowed only when nothing forbids it; every reason that forbids it is listed, for the audit trail."""
    reasons: list[RefusalReason] = []
    if facts.is_existing_customer:
        reasons.append(RefusalReason.EXISTING_CUSTOMER)
    if facts.is_partner_referral:
        reasons.append(RefusalReason.PARTNER_REFERRAL)
    if facts.is_policy_sensitive:
        reasons.append(RefusalReason.POLICY_SENSITIVE)
    if facts.consent in (EmailConsent.WITHDRAWN, EmailConsent.DO_NOT_CONTACT):
        reasons.append(RefusalReason.CONSENT_FORBIDS)
    elif facts.consent is EmailConsent.NOT_RECORDED and require_explicit_consent:
        reasons.append(RefusalReason.CONSENT_NOT_RECORDED)
    return AutoEmailDecision(allowed=not reasons, reasons=tuple(reasons))
