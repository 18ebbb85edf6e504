from __future__ import annotations

import pandas as pd

from assets.identity.generator import GeneratorConfig, generate_identity_dataset
from assets.identity.prepare import PERSON_INPUT_COLUMNS


def test_same_seed_generates_identical_frames() -> None:
    first = generate_identity_dataset(GeneratorConfig(n_people=300, n_accounts=60, seed=5))
    second = generate_identity_dataset(GeneratorConfig(n_people=300, n_accounts=60, seed=5))
    for name in ("accounts", "account_domains", "contacts", "leads"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))


def test_another_seed_generates_other_people() -> None:
    first = generate_identity_dataset(GeneratorConfig(n_people=300, n_accounts=60, seed=5))
    other = generate_identity_dataset(GeneratorConfig(n_people=300, n_accounts=60, seed=6))
    assert not first.leads["email_key"].equals(other.leads["email_key"])


def test_generated_leads_carry_truth_and_the_mess_forms_produce(identity_dataset) -> None:
    leads = identity_dataset.leads
    assert set(PERSON_INPUT_COLUMNS) <= set(leads.columns)
    assert leads["record_id"].is_unique and leads["true_person_id"].notna().all()
    emails = leads["email_key"]
    assert emails.str.contains(r"\+", regex=True).any()  # plus-addressing
    assert (emails != emails.str.strip()).any() or (emails != emails.str.lower()).any()  # case/whitespace
    assert leads["is_free_email"].any()  # personal mailboxes
    assert leads["true_person_id"].duplicated().any()  # repeat submissions
    assert leads.groupby("true_person_id")["source"].nunique().max() > 1  # across sources
    alias_domains = set(identity_dataset.account_domains.query("~is_primary")["domain"])
    assert leads["email_domain"].isin(alias_domains).any()
    assert leads["true_account_id"].isna().any() and leads["true_account_id"].notna().any()
