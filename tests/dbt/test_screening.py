"""The spam/junk gate's burst rule and the job-title classification, end to end through real dbt runs on a
throw-away warehouse: the shipped seeds (spam_burst_limits, spam_signals, job_title_patterns) with the
shipped SQL. The rule mechanics are pinned by the dbt unit tests in _screening__models.yml; here the data
an analyst edits is checked against what it is meant to decide.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from leadops_dbt_warehouse import DbtWorkspace, append_events, create_warehouse, event, query

pytestmark = pytest.mark.slow

BOT_IP = "198.51.100.77"
# policies/default/spam_burst_limits.csv allows 10 events per IP in 10 minutes; the script sends 12 in 6.
BOT_EVENT_IDS = [f"evt_bot_{number:02d}" for number in range(12)]
# Three colleagues behind one office IP within minutes: well under the limit.
OFFICE_EVENT_IDS = ["evt_office_1", "evt_office_2", "evt_office_3"]
# One person sending the demo form four times in eight minutes: over the address limit (3 per 10 minutes).
REPEAT_EVENT_IDS = ["evt_repeat_1", "evt_repeat_2", "evt_repeat_3", "evt_repeat_4"]

# (job title as typed, seniority, job function) under seeds/job_titles/job_title_patterns.csv.
TITLES = [
    ("CEO", "exec", "other"),
    ("Founder & CEO", "exec", "other"),
    ("Co-Founder / CTO", "exec", "engineering"),
    ("CFO", "exec", "finance"),
    ("Chief Revenue Officer", "exec", "sales"),
    ("Owner", "exec", "other"),
    ("Managing Director", "exec", "other"),
    ("SVP, Sales", "vp", "sales"),
    ("EVP Operations", "vp", "operations"),
    ("Vice President of Marketing", "vp", "marketing"),
    ("V.P. Engineering", "vp", "engineering"),
    ("Head of Data", "director", "data"),
    ("Head of RevOps", "director", "operations"),
    ("Sr. Director, IT", "director", "it"),
    ("Director of Finance", "director", "finance"),
    ("Senior Manager, Marketing Operations", "manager", "marketing"),
    ("Engineering Manager", "manager", "engineering"),
    ("Sales Mgr", "manager", "sales"),
    ("Team Lead - Customer Success", "manager", "sales"),
    ("Lead Engineer", "ic", "engineering"),
    ("Senior Software Engineer", "ic", "engineering"),
    ("Data Scientist", "ic", "data"),
    ("Analytics Engineer", "ic", "data"),
    ("Business Analyst", "ic", "data"),
    ("Financial Analyst", "ic", "finance"),
    ("SDR", "ic", "sales"),
    ("BDR", "ic", "sales"),
    ("Account Executive", "ic", "sales"),
    ("Sales Engineer", "ic", "sales"),
    ("Marketing Ops Specialist", "ic", "marketing"),
    ("IT Admin", "ic", "it"),
    ("Systems Administrator", "ic", "it"),
    ("Product Manager", "ic", "other"),
    ("Executive Assistant to the CEO", "ic", "operations"),
    ("Student", "student", "other"),
    ("PhD Candidate", "student", "other"),
    ("Marketing Intern", "student", "marketing"),
    ("Werkstudentin Vertrieb", "student", "sales"),
    ("Geschäftsführer", "exec", "other"),
    ("Geschaeftsfuehrerin", "exec", "other"),
    ("Leiterin IT", "director", "it"),
    ("Directeur Général", "exec", "other"),
    ("Directrice Marketing", "director", "marketing"),
    ("Ingénieur logiciel", "ic", "engineering"),
    ("Gerente de Ventas", "manager", "sales"),
    ("Gerente General", "exec", "other"),
    ("代表取締役社長", "exec", "other"),
    ("営業部長", "director", "sales"),
    ("n/a", "unknown", "other"),
    ("Chief Happiness Officer", "exec", "other"),
    ("Wizard of Light Bulb Moments", "unknown", "other"),
    ("International Relations", "unknown", "other"),
]


# One CRM record of each kind, unrelated to the events: the identity step links events against CRM
# contacts and refuses an empty contact table.
CRM: dict[str, list[dict[str, Any]]] = {
    "owners": [
        {
            "owner_id": "own_ava",
            "name": "Ava Smith",
            "email": "ava.smith@ourco.example",
            "team": "amer_smb",
            "region": "AMER",
            "active": True,
            "capacity": 25,
        }
    ],
    "accounts": [
        {
            "account_id": "acc_hooli",
            "name": "Hooli",
            "domain": "hooli.example",
            "country": "US",
            "employees": 5000,
            "status": "customer",
            "owner_id": "own_ava",
        }
    ],
    "account_domains": [{"account_id": "acc_hooli", "domain": "hooli.example", "is_primary": True}],
    "contacts": [
        {
            "contact_id": "con_gavin",
            "account_id": "acc_hooli",
            "first_name": "Gavin",
            "last_name": "Belson",
            "email": "gavin@hooli.example",
            "owner_id": "own_ava",
        }
    ],
}


def _title_event_id(index: int) -> str:
    return f"evt_title_{index:02d}"


def _events() -> list[dict[str, Any]]:
    bots = [
        {**event(event_id, index // 2, email=f"buyer{index}@shop{index}.example"), "ip": BOT_IP}
        for index, event_id in enumerate(BOT_EVENT_IDS)
    ]
    office = [
        {**event(event_id, 20 + index, email=f"{name}@officeco.example"), "ip": "203.0.113.5"}
        for index, (event_id, name) in enumerate(zip(OFFICE_EVENT_IDS, ["ana", "ben", "cho"], strict=True))
    ]
    repeats = [
        {**event(event_id, 40 + 2 * index, email="rita@repeatco.example"), "ip": f"192.0.2.{10 + index}"}
        for index, event_id in enumerate(REPEAT_EVENT_IDS)
    ]
    titled = [
        {
            **event(_title_event_id(index), 60 + index, email=f"person{index}@firm{index}.example"),
            "job_title": title,
            "ip": f"192.0.2.{100 + index}",
        }
        for index, (title, _, _) in enumerate(TITLES)
    ]
    return bots + office + repeats + titled


@pytest.fixture(scope="module")
def screened(tmp_path_factory: pytest.TempPathFactory) -> DbtWorkspace:
    scratch = tmp_path_factory.mktemp("screening")
    workspace = DbtWorkspace(scratch / "warehouse.duckdb", "policies/default", scratch)
    create_warehouse(workspace.warehouse, CRM)
    append_events(workspace.warehouse, _events())
    # Data tests included (seed contracts, accepted values); unit tests run in test_dbt_routing.
    workspace.run(
        "build",
        "--select",
        "+int_identify_leads",
        "+int_classify_lead_job_titles",
        "--exclude",
        "test_type:unit",
    )
    return workspace


def _lead_signals(workspace: DbtWorkspace) -> dict[str, dict[str, Any]]:
    """Per event: the spam signals and disqualifying signals of the lead it belongs to."""
    rows = query(
        workspace.warehouse,
        "select lead_events.event_id, leads.spam_signals, leads.disqualifying_spam_signals"
        " from intermediate.int_identify_lead_events as lead_events"
        " inner join intermediate.int_identify_leads as leads on lead_events.lead_id = leads.lead_id",
    )
    return {row["event_id"]: row for row in rows}


def test_every_lead_of_an_ip_burst_is_disqualified_with_burst_from_ip(screened: DbtWorkspace) -> None:
    signals = _lead_signals(screened)
    for event_id in BOT_EVENT_IDS:
        assert "burst_from_ip" in signals[event_id]["spam_signals"].split(";"), event_id
        assert "burst_from_ip" in (signals[event_id]["disqualifying_spam_signals"] or "").split(";"), event_id


def test_a_few_colleagues_behind_one_office_ip_are_no_burst(screened: DbtWorkspace) -> None:
    signals = _lead_signals(screened)
    assert [signals[event_id]["spam_signals"] for event_id in OFFICE_EVENT_IDS] == ["", "", ""]


def test_a_repeat_submitter_is_flagged_but_not_disqualified(screened: DbtWorkspace) -> None:
    signals = _lead_signals(screened)
    for event_id in REPEAT_EVENT_IDS:
        assert signals[event_id]["spam_signals"] == "burst_from_address", event_id
        assert signals[event_id]["disqualifying_spam_signals"] is None, event_id


def test_burst_rows_name_only_burst_events(screened: DbtWorkspace) -> None:
    rows = query(screened.warehouse, "select event_id, signal from intermediate.int_detect_submission_bursts")
    assert sorted((row["event_id"], row["signal"]) for row in rows) == sorted(
        [(event_id, "burst_from_ip") for event_id in BOT_EVENT_IDS]
        + [(event_id, "burst_from_address") for event_id in REPEAT_EVENT_IDS]
    )


def test_known_titles_get_their_seniority_and_function(screened: DbtWorkspace) -> None:
    rows = query(
        screened.warehouse,
        "select lead_events.event_id, titles.job_title, titles.seniority, titles.job_function"
        " from intermediate.int_identify_lead_events as lead_events"
        " inner join intermediate.int_classify_lead_job_titles as titles"
        " on lead_events.lead_id = titles.lead_id",
    )
    by_event = {row["event_id"]: row for row in rows}
    classified = [
        (
            by_event[_title_event_id(index)]["job_title"],
            by_event[_title_event_id(index)]["seniority"],
            by_event[_title_event_id(index)]["job_function"],
        )
        for index in range(len(TITLES))
    ]
    assert classified == TITLES


def test_every_lead_gets_a_classification_and_keeps_its_raw_title(screened: DbtWorkspace) -> None:
    leads = query(screened.warehouse, "select lead_id, job_title from intermediate.int_identify_leads")
    titles = query(
        screened.warehouse, "select lead_id, job_title from intermediate.int_classify_lead_job_titles"
    )
    assert sorted(leads, key=lambda row: row["lead_id"]) == sorted(titles, key=lambda row: row["lead_id"])


@pytest.mark.parametrize("policy_dir", ["policies/default", "policies/example_apac_first"])
def test_burst_limits_seed_holds_its_contract_in_every_policy(
    tmp_path_factory: pytest.TempPathFactory, policy_dir: str
) -> None:
    scratch = tmp_path_factory.mktemp(Path(policy_dir).name)
    workspace = DbtWorkspace(scratch / "warehouse.duckdb", policy_dir, scratch)
    create_warehouse(workspace.warehouse, CRM)
    # cautious: only the tests of these seeds, not the ones that also read models this build skips.
    workspace.run(
        "build",
        "--select",
        "spam_burst_limits",
        "spam_signals",
        "job_title_patterns",
        "--indirect-selection",
        "cautious",
    )
    limits = query(workspace.warehouse, "select signal from rules.spam_burst_limits order by signal")
    assert [row["signal"] for row in limits] == ["burst_from_address", "burst_from_ip"]
