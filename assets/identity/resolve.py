"""Resolve one batch of new events against everything already known, with the saved splink models.

Pure functions over DataFrames; the asset (assets.py) reads the warehouse, calls `resolve_batch` and writes
the result. Records are events (record id = event_id) and CRM contacts (record id = `contact:<id>`).

- Person: each new event is scored against CRM contacts, earlier events and earlier events of the same
  batch. Pairs at or above `auto_link` are merged (union-find, `cluster_people`); the best candidate
  between `review` and `auto_link` is kept for a human ("low-confidence match"). The rules in
  assets/identity/rules.py come first: an exact email key with an agreeing name links an event to its CRM
  contact whatever the phone says; a confusable address or names alone across company domains is held
  for review whatever the probability, with the reason (both spellings) in `person_review_reason`.
- A new event sharing a blocking key whose block alone is oversized (guards.oversized_blocking_keys: a load
  test's thousands of "Test User" events, a role mailbox) is not scored: its block would outgrow the
  candidate-pair guard and, since it stays pending, stop every later run. It goes to review with the rule,
  the key and its size in `person_review_reason` (`blocking_key_oversized: ...`) and a record of the same
  block as its candidate, under a person id of its own; the other events are scored as usual.
- Account: each new event is scored against the CRM accounts (one row per account domain).
- person_id persists: a cluster keeps the smallest person id it already had; a contact nobody linked yet
  has the stable id `per_<sha256("contact:<id>")>`.
- Merges are history: `identity.person_assignments` rows have valid_from/valid_to; an unmerge closes the
  event's row and opens one under a new person id, and the event is pinned: automation never links it
  again (it is left out of every later candidate pool).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from pydantic import BaseModel

from assets.identity.guards import (
    GuardResult,
    check_auto_link_share,
    check_largest_cluster,
    default_blocking_key_pair_limit,
)
from assets.identity.prepare import LEAD_ACCOUNT_INPUT_COLUMNS, PERSON_INPUT_COLUMNS
from assets.identity.rules import domain_owners
from assets.identity.scoring import (
    PAIR_COLUMNS,
    Thresholds,
    cluster_people,
    person_candidate_pairs,
    person_oversized_blocks,
    score_accounts,
)

CONTACT_PREFIX = "contact:"
# The identity models' input columns, as raw.inbound_events carries them (record_id = event_id).
PERSON_COLUMNS = list(PERSON_INPUT_COLUMNS)
ACCOUNT_COLUMNS = list(LEAD_ACCOUNT_INPUT_COLUMNS)
EVENT_MATCH_COLUMNS = [
    "event_id",
    "person_decision",
    "person_candidate_id",
    "person_candidate_source",
    "person_candidate_person_id",
    "person_match_probability",
    "person_review_reason",
    "account_decision",
    "account_candidate_id",
    "account_match_method",
    "account_match_probability",
]
ASSIGNMENT_COLUMNS = [
    "record_id",
    "person_id",
    "valid_from",
    "valid_to",
    "change",
    "actor",
    "override_id",
    "match_probability",
]
# Batches smaller than this skip the auto-link share guard: one repeat submitter is 100 % of a batch of 1.
MIN_BATCH_FOR_SHARE_GUARD = 20
IDENTITY_ACTOR = "leadops-identity"


class IdentityPolicy(BaseModel):
    """Thresholds and guard limits; see IdentityResolver for where they come from."""

    auto_link: float = 0.95
    review: float = 0.60
    max_candidate_pairs: int = 20_000_000
    max_cluster_size: int = 50
    max_auto_link_share: float = 0.9
    # New events scored per chunk (warehouse.resolve_pending_events): 1k new leads against 100k records
    # make ~3.7k candidate pairs, so 5,000 per chunk stays far below max_candidate_pairs.
    chunk_size: int = 5_000
    # Pairs one blocking key may make before its new events go to review; None derives it from
    # max_candidate_pairs (blocking_key_pair_limit).
    max_pairs_per_blocking_key: int | None = None

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(auto_link=self.auto_link, review=self.review)

    @property
    def blocking_key_pair_limit(self) -> int:
        """Pairs one blocking key may make before its events go to review: `max_pairs_per_blocking_key`,
        or by default 1/20 of max_candidate_pairs (guards.KEY_SHARE_OF_PAIR_LIMIT), 1M at the default."""
        if self.max_pairs_per_blocking_key is not None:
            return self.max_pairs_per_blocking_key
        return default_blocking_key_pair_limit(self.max_candidate_pairs)


@dataclass
class Resolution:
    event_matches: pd.DataFrame
    assignments: pd.DataFrame  # rows to append to identity.person_assignments (open rows)
    closed_record_ids: list[str]  # records whose open assignment row is closed at `at`
    guards: list[GuardResult] = field(default_factory=list)

    @property
    def guards_passed(self) -> bool:
        return all(guard.passed for guard in self.guards)


def stable_person_id(record_id: str) -> str:
    return "per_" + hashlib.sha256(record_id.encode("utf-8")).hexdigest()[:16]


def unmerged_person_id(event_id: str, override_id: str) -> str:
    return stable_person_id(f"{event_id}|unmerged|{override_id}")


def contact_person_records(contacts: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """CRM contacts as person records: company and country come from the contact's account."""
    columns = {"name": "company_normalized", "country": "country_code", "account_id": "account_id"}
    firms = (
        accounts[list(columns)].rename(columns=columns)
        if len(accounts)
        else pd.DataFrame(columns=list(columns.values()))
    )
    merged = contacts.merge(firms, on="account_id", how="left")
    return pd.DataFrame(
        {
            "record_id": CONTACT_PREFIX + merged["contact_id"].astype(str),
            "email_key": merged["email"],
            "first_name_normalized": merged["first_name"],
            "last_name_normalized": merged["last_name"],
            "company_normalized": merged["company_normalized"],
            "country_code": merged["country_code"],
            "phone_e164": merged["phone"],
        }
    )


def _best_candidates(pairs: pd.DataFrame, record_ids: list[str], auto_link: float) -> pd.DataFrame:
    """Per new record its best candidate: a pair that may auto-link before one held for review (the
    clustering links the former), highest probability, then an existing record, then id."""
    if pairs.empty:
        return pd.DataFrame({"new_record_id": record_ids}).assign(
            candidate_id=None, candidate_source=None, match_probability=float("nan"), hold_reason=None
        )
    ranked = pairs.assign(
        _held=(pairs["match_probability"] >= auto_link) & pairs["hold_reason"].notna(),
        _batch=(pairs["candidate_source"] == "batch").astype(int),
    ).sort_values(
        ["new_record_id", "_held", "match_probability", "_batch", "candidate_id"],
        ascending=[True, True, False, True, True],
        kind="mergesort",
    )
    best = ranked.drop_duplicates("new_record_id")[
        ["new_record_id", "candidate_id", "candidate_source", "match_probability", "hold_reason"]
    ]
    return pd.DataFrame({"new_record_id": record_ids}).merge(best, on="new_record_id", how="left")


def _candidate_source(candidate_id: object, source: object) -> str | None:
    if candidate_id is None or pd.isna(candidate_id):
        return None
    if str(candidate_id).startswith(CONTACT_PREFIX):
        return "crm_contact"
    return "batch" if source == "batch" else "lead"


def resolve_batch(
    new_events: pd.DataFrame,
    earlier_events: pd.DataFrame,
    contacts: pd.DataFrame,
    accounts: pd.DataFrame,
    account_domains: pd.DataFrame,
    current_person_ids: dict[str, str],
    pinned_record_ids: set[str],
    policy: IdentityPolicy,
    at: datetime,
) -> Resolution:
    """Score and cluster `new_events` (arrival order) against earlier events and CRM contacts.

    `new_events`/`earlier_events` carry the raw.inbound_events columns PERSON_COLUMNS and ACCOUNT_COLUMNS
    use (with `record_id` = event_id); `current_person_ids` maps every record already assigned (events and
    contacts) to its open person id; pinned records (unmerged by a person) are never candidates.
    """
    thresholds = policy.thresholds
    new_ids = new_events["record_id"].astype(str).tolist()
    if not new_ids:
        return Resolution(
            pd.DataFrame(columns=EVENT_MATCH_COLUMNS), pd.DataFrame(columns=ASSIGNMENT_COLUMNS), []
        )

    contact_records = contact_person_records(contacts, accounts)
    pool = pd.concat([earlier_events[PERSON_COLUMNS], contact_records[PERSON_COLUMNS]], ignore_index=True)
    pool = pool[~pool["record_id"].astype(str).isin(pinned_record_ids)].reset_index(drop=True)
    # Oversized blocks leave before the pair-volume guard: the guard still sees every other block.
    oversized = person_oversized_blocks(
        new_events[PERSON_COLUMNS], pool, limit_per_key=policy.blocking_key_pair_limit
    ).set_index("record_id")
    scored_events = new_events[~new_events["record_id"].astype(str).isin(oversized.index)]
    if len(scored_events):
        pairs = person_candidate_pairs(
            scored_events[PERSON_COLUMNS],
            pool,
            min_probability=thresholds.review,
            max_candidate_pairs=policy.max_candidate_pairs,
            contact_ids=set(contact_records["record_id"]),
            domain_owners=domain_owners(account_domains),
        )
    else:
        pairs = pd.DataFrame(columns=PAIR_COLUMNS)
    existing_ids = {
        record_id: current_person_ids.get(record_id, stable_person_id(record_id))
        for record_id in pool["record_id"].astype(str)
    }
    clusters = cluster_people(new_ids, pairs, existing_ids, auto_link=thresholds.auto_link)
    person_of = {**existing_ids, **dict(zip(clusters["record_id"], clusters["person_id"], strict=True))}

    best = _best_candidates(pairs, new_ids, thresholds.auto_link)
    held = best["new_record_id"].isin(oversized.index)
    best = best.astype({"candidate_id": object, "candidate_source": object, "hold_reason": object})
    held_ids = best.loc[held, "new_record_id"]
    best.loc[held, "candidate_id"] = held_ids.map(oversized["candidate_id"])
    best.loc[held, "candidate_source"] = held_ids.map(oversized["candidate_source"])
    best.loc[held, "hold_reason"] = held_ids.map(oversized["reason"])
    if len(accounts):
        accounts_scored = score_accounts(
            new_events[ACCOUNT_COLUMNS],
            accounts,
            account_domains,
            auto_link=thresholds.auto_link,
            review=thresholds.review,
            max_candidate_pairs=policy.max_candidate_pairs,
        )
    else:  # An empty CRM is a valid state: nothing to link to (splink needs two frames to link).
        accounts_scored = pd.DataFrame(
            {"new_record_id": new_ids, "candidate_id": None, "match_method": None, "match_probability": None}
        ).assign(decision="new")
    # A held pair (rules.hold_reason) is no edge of the clustering: at best it is a review candidate. An
    # event of an oversized block was not scored: review, with no probability.
    decisions = [
        "review"
        if out or (thresholds.decide(p) == "linked" and isinstance(reason, str))
        else thresholds.decide(p)
        for p, reason, out in zip(best["match_probability"], best["hold_reason"], held, strict=True)
    ]
    matches = pd.DataFrame(
        {
            "event_id": new_ids,
            "person_decision": decisions,
            "person_candidate_id": [
                c if d != "new" else None for c, d in zip(best["candidate_id"], decisions, strict=True)
            ],
            "person_candidate_source": [
                _candidate_source(c, s) if d != "new" else None
                for c, s, d in zip(best["candidate_id"], best["candidate_source"], decisions, strict=True)
            ],
            "person_match_probability": [
                p if d != "new" else None for p, d in zip(best["match_probability"], decisions, strict=True)
            ],
            "person_review_reason": [
                r if d == "review" and isinstance(r, str) else None
                for r, d in zip(best["hold_reason"], decisions, strict=True)
            ],
        }
    )
    matches["person_candidate_person_id"] = [
        person_of.get(str(c)) if c is not None and not pd.isna(c) else None
        for c in matches["person_candidate_id"]
    ]
    accounts_by_event = accounts_scored.set_index("new_record_id")
    matches["account_decision"] = matches["event_id"].map(accounts_by_event["decision"])
    matches["account_candidate_id"] = matches["event_id"].map(accounts_by_event["candidate_id"])
    matches["account_match_method"] = matches["event_id"].map(accounts_by_event["match_method"])
    matches["account_match_probability"] = matches["event_id"].map(accounts_by_event["match_probability"])

    # History: new records open a row; existing records whose person changed (a merge) close and reopen;
    # a CRM contact a new record joined for the first time gets its (stable) person id written down.
    probability_of = dict(zip(matches["event_id"], matches["person_match_probability"], strict=True))
    new_set = set(new_ids)
    rows = []
    closed = []

    def open_row(record_id: str, person_id: str, change: str) -> None:
        rows.append(
            {
                "record_id": record_id,
                "person_id": person_id,
                "valid_from": at,
                "valid_to": None,
                "change": change,
                "actor": IDENTITY_ACTOR,
                "override_id": None,
                "match_probability": probability_of.get(record_id),
            }
        )

    for record_id, person_id in zip(clusters["record_id"], clusters["person_id"], strict=True):
        if record_id in new_set:
            open_row(record_id, person_id, "new" if person_id == stable_person_id(record_id) else "linked")
        else:
            if record_id in current_person_ids:
                closed.append(record_id)
            open_row(record_id, person_id, "merged")
    touched_people = {person_of[record_id] for record_id in new_ids}
    written = set(clusters["record_id"])
    for record_id in contact_records["record_id"]:
        if (
            record_id not in current_person_ids
            and record_id not in written
            and record_id in person_of
            and person_of[record_id] in touched_people
        ):
            open_row(record_id, person_of[record_id], "linked")
    assignments = pd.DataFrame(rows, columns=ASSIGNMENT_COLUMNS)

    guards = [
        check_largest_cluster(
            _current_clusters(current_person_ids, assignments, closed), limit=policy.max_cluster_size
        )
    ]
    if len(new_ids) >= MIN_BATCH_FOR_SHARE_GUARD:
        guards.append(
            check_auto_link_share(
                matches.rename(columns={"person_decision": "decision"}), limit=policy.max_auto_link_share
            )
        )
    return Resolution(matches[EVENT_MATCH_COLUMNS], assignments, closed, guards)


def _current_clusters(current: dict[str, str], assignments: pd.DataFrame, closed: list[str]) -> pd.DataFrame:
    """Every record's person id once this resolution is applied (for the cluster-size guard)."""
    merged = {record: person for record, person in current.items() if record not in set(closed)}
    merged.update(dict(zip(assignments["record_id"], assignments["person_id"], strict=True)))
    return pd.DataFrame({"record_id": list(merged), "person_id": list(merged.values())})


def unmerge_assignments(
    requests: pd.DataFrame, current_person_ids: dict[str, str], at: datetime
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Apply operator unmerge requests (override_id, target_id=event_id, actor, reason).

    Returns (rows to open, record ids to close, problems). An unknown event is reported, not applied.
    """
    rows, closed, problems = [], [], []
    for request in requests.to_dict("records"):
        event_id = str(request["target_id"])
        if event_id not in current_person_ids:
            problems.append(f"unmerge {request['override_id']}: event {event_id} has no identity yet")
            continue
        closed.append(event_id)
        rows.append(
            {
                "record_id": event_id,
                "person_id": unmerged_person_id(event_id, str(request["override_id"])),
                "valid_from": at,
                "valid_to": None,
                "change": "unmerged",
                "actor": request["actor"],
                "override_id": request["override_id"],
                "match_probability": None,
            }
        )
    return pd.DataFrame(rows, columns=ASSIGNMENT_COLUMNS), closed, problems
