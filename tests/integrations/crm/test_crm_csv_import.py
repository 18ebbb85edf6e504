"""CSV import: bad rows are reported with file, line and reason and skipped; good rows load idempotently."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.crm.csv_import import CsvFormatError, ImportReport, import_crm_csvs
from integrations.crm.models import ObjectType
from integrations.crm.port import CrmPort

OWNERS = """owner_id,name,email,team,region,active,capacity
OWN-1,Ada Active,ada@vendor.io,emea_smb,EMEA,true,10
OWN-2,Gone Gary,gary@vendor.io,emea_smb,EMEA,false,0
"""
ACCOUNTS = """account_id,name,domain,alias_domains,country,employees,industry,status,owner_id
ACC-1,Acme,acme.com,acme.io; acme.co.uk,DE,1200,fintech,customer,OWN-2
ACC-2,Beta,beta.com,,FR,,retail,prospect,
"""
CONTACTS = """contact_id,account_id,first_name,last_name,email,title,phone,owner_id
CON-1,ACC-1,Dana,Doe,dana@acme.com,CTO,+49 30 1234,OWN-1
"""
OPPORTUNITIES = """opportunity_id,account_id,stage,owner_id
OPP-1,ACC-1,proposal,OWN-1
OPP-2,ACC-2,closed_lost,
"""


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def _all_files(directory: Path) -> dict[str, Path]:
    return {
        "owners": _write(directory, "owners.csv", OWNERS),
        "accounts": _write(directory, "accounts.csv", ACCOUNTS),
        "contacts": _write(directory, "contacts.csv", CONTACTS),
        "opportunities": _write(directory, "opportunities.csv", OPPORTUNITIES),
    }


def _reasons(report: ImportReport) -> list[tuple[str, int, str | None, str]]:
    return [(r.file_name, r.line_number, r.record_id, r.reason) for r in report.rejections]


def test_good_files_load_everything_and_alias_domains_are_split(crm: CrmPort, tmp_path: Path) -> None:
    report = import_crm_csvs(crm, **_all_files(tmp_path))

    assert report.rejections == []
    assert [(f.file_name, f.created) for f in report.files] == [
        ("owners.csv", 2),
        ("accounts.csv", 2),
        ("contacts.csv", 1),
        ("opportunities.csv", 2),
    ]
    accounts = {account.account_id: account for account in crm.read_accounts()}
    assert accounts["ACC-1"].alias_domains == ["acme.io", "acme.co.uk"]
    assert accounts["ACC-2"].employees is None and accounts["ACC-2"].owner_id is None
    assert [opp.opportunity_id for opp in crm.read_open_opportunities()] == ["OPP-1"]


def test_importing_the_same_files_again_changes_nothing(crm: CrmPort, tmp_path: Path) -> None:
    files = _all_files(tmp_path)
    import_crm_csvs(crm, **files)

    again = import_crm_csvs(crm, **files)

    assert again.loaded == 7 and again.rejected == 0
    assert all(f.created == 0 and f.updated == 0 for f in again.files)
    assert crm.get_record(ObjectType.ACCOUNT, record_id="ACC-1").version == 1


def test_an_edited_row_updates_its_record(crm: CrmPort, tmp_path: Path) -> None:
    files = _all_files(tmp_path)
    import_crm_csvs(crm, **files)
    _write(
        tmp_path,
        "owners.csv",
        OWNERS.replace(
            "OWN-1,Ada Active,ada@vendor.io,emea_smb,EMEA,true,10",
            "OWN-1,Ada Active,ada@vendor.io,emea_smb,EMEA,false,10",
        ),
    )

    report = import_crm_csvs(crm, owners=files["owners"])

    assert (report.files[0].updated, report.files[0].unchanged) == (1, 1)
    assert {o.owner_id: o.active for o in crm.read_owners()} == {"OWN-1": False, "OWN-2": False}


def test_bad_owner_rows_are_rejected_with_their_line_number_and_reason(crm: CrmPort, tmp_path: Path) -> None:
    owners = _write(
        tmp_path,
        "owners.csv",
        "owner_id,name,email,team,region,active,capacity\n"
        "OWN-1,Ada,ada@vendor.io,emea_smb,EMEA,true,10\n"  # line 2: good
        ",Nobody,nobody@vendor.io,emea_smb,EMEA,true,10\n"  # line 3: no id
        "OWN-3,Maybe,maybe@vendor.io,emea_smb,EMEA,maybe,10\n"  # line 4: bad boolean
        "\n"  # line 5: blank, skipped
        "OWN-4,Tenner,ten@vendor.io,emea_smb,EMEA,true,ten\n"  # line 6: capacity not a number
        "OWN-5,Broken,broken-at-vendor.io,emea_smb,EMEA,true,5\n"  # line 7: bad email
        "OWN-1,Ada again,ada2@vendor.io,emea_smb,EMEA,true,10\n"  # line 8: duplicate id
        "OWN-6,Short,short@vendor.io,emea_smb,EMEA,true\n"  # line 9: a value missing
        "OWN-7,,blank@vendor.io,emea_smb,EMEA,,3\n",  # line 10: required name and active blank
    )

    report = import_crm_csvs(crm, owners=owners)

    reasons = _reasons(report)
    assert [(file, line, record_id) for file, line, record_id, _ in reasons] == [
        ("owners.csv", 3, None),
        ("owners.csv", 4, "OWN-3"),
        ("owners.csv", 6, "OWN-4"),
        ("owners.csv", 7, "OWN-5"),
        ("owners.csv", 8, "OWN-1"),
        ("owners.csv", 9, "OWN-6"),
        ("owners.csv", 10, "OWN-7"),
    ]
    assert reasons[0][3] == "owner_id is empty"
    assert reasons[1][3].startswith("active 'maybe': Input should be a valid boolean")
    assert reasons[2][3].startswith("capacity 'ten': Input should be a valid integer")
    assert "not a valid email address" in reasons[3][3]
    assert reasons[4][3] == "duplicate owner_id OWN-1: already on line 2"
    assert reasons[5][3] == "row has 6 values but the header has 7 columns"
    assert reasons[6][3] == "name is required; active is required"
    assert [o.owner_id for o in crm.read_owners()] == ["OWN-1"]
    assert crm.get_record(ObjectType.OWNER, record_id="OWN-1").fields["name"] == "Ada"


def test_bad_references_and_values_in_later_files_are_rejected(crm: CrmPort, tmp_path: Path) -> None:
    owners = _write(
        tmp_path,
        "owners.csv",
        "owner_id,name,email,team,region,active,capacity\n"
        "OWN-1,Ada,ada@vendor.io,emea_smb,EMEA,true,10\n"
        "OWN-2,Bad,bad@vendor.io,emea_smb,EMEA,yes please,10\n",
    )
    accounts = _write(
        tmp_path,
        "accounts.csv",
        "account_id,name,domain,alias_domains,country,employees,industry,status,owner_id\n"
        "ACC-1,Acme,acme.com,,DE,1200,fintech,customer,OWN-1\n"
        "ACC-2,Partnerco,partner.co,,DE,10,software,partner,OWN-1\n"  # line 3: status
        'ACC-3,Bigco,bigco.com,,US,"1,000",retail,prospect,OWN-1\n'  # line 4: employees
        "ACC-4,Lostco,lost.com,,US,5,retail,prospect,OWN-404\n"  # line 5: unknown owner
        "ACC-5,Orphan,orphan.com,,US,5,retail,prospect,OWN-2\n"  # line 6: owner rejected above
        "ACC-6,Urlco,https://urlco.com/,,US,5,retail,prospect,\n",  # line 7: not a bare domain
    )
    contacts = _write(
        tmp_path,
        "contacts.csv",
        "contact_id,account_id,first_name,last_name,email,title,phone,owner_id\n"
        'CON-1,ACC-1,Dana,Doe,dana@acme.com,"Head of\nData",,OWN-1\n'  # lines 2-3: quoted newline
        "CON-2,ACC-404,Eve,Roe,eve@acme.com,CTO,,\n",  # line 4: unknown account
    )
    opportunities = _write(
        tmp_path,
        "opportunities.csv",
        "opportunity_id,account_id,stage,owner_id\nOPP-1,ACC-2,proposal,OWN-1\n",  # line 2: account rejected
    )

    report = import_crm_csvs(
        crm, owners=owners, accounts=accounts, contacts=contacts, opportunities=opportunities
    )

    reasons = {(file, line): reason for file, line, _, reason in _reasons(report)}
    assert set(reasons) == {
        ("owners.csv", 3),
        ("accounts.csv", 3),
        ("accounts.csv", 4),
        ("accounts.csv", 5),
        ("accounts.csv", 6),
        ("accounts.csv", 7),
        ("contacts.csv", 4),
        ("opportunities.csv", 2),
    }
    assert reasons[("accounts.csv", 3)].startswith(
        "status 'partner': Input should be 'customer' or 'prospect'"
    )
    assert reasons[("accounts.csv", 4)].startswith("employees '1,000': Input should be a valid integer")
    assert reasons[("accounts.csv", 5)] == "owner_id OWN-404 is not a known owner"
    assert (
        reasons[("accounts.csv", 6)]
        == "owner_id OWN-2 is not a known owner (its row owners.csv:3 was rejected)"
    )
    assert "expected a bare domain like acme.com" in reasons[("accounts.csv", 7)]
    assert reasons[("contacts.csv", 4)] == "account_id ACC-404 is not a known account"
    assert reasons[("opportunities.csv", 2)].startswith("account_id ACC-2 is not a known account")
    assert [c.title for c in crm.read_contacts()] == ["Head of\nData"]
    assert [(f.loaded, f.rejected) for f in report.files] == [(1, 1), (1, 5), (1, 1), (0, 1)]


def test_references_to_records_already_in_the_crm_need_no_owners_file(crm: CrmPort, tmp_path: Path) -> None:
    files = _all_files(tmp_path)
    import_crm_csvs(crm, owners=files["owners"])

    report = import_crm_csvs(crm, accounts=files["accounts"])

    assert report.rejected == 0 and crm.count(ObjectType.ACCOUNT) == 2


def test_a_file_missing_a_contract_column_stops_the_import_before_any_write(
    crm: CrmPort, tmp_path: Path
) -> None:
    files = _all_files(tmp_path)
    _write(tmp_path, "accounts.csv", ACCOUNTS.replace(",alias_domains", ""))

    with pytest.raises(CsvFormatError, match=r"accounts\.csv: header lacks column\(s\) alias_domains"):
        import_crm_csvs(crm, **files)

    assert crm.count(ObjectType.OWNER) == 0


def test_a_file_without_header_row_is_refused_with_a_hint(crm: CrmPort, tmp_path: Path) -> None:
    owners = _write(tmp_path, "owners.csv", OWNERS.split("\n", 1)[1])

    with pytest.raises(CsvFormatError, match="is the header row missing"):
        import_crm_csvs(crm, owners=owners)


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "owners.csv is empty"), (b"\xff\xfeo\x00w\x00", "not UTF-8")],
)
def test_empty_or_undecodable_files_are_refused(
    crm: CrmPort, tmp_path: Path, content: str | bytes, message: str
) -> None:
    owners = tmp_path / "owners.csv"
    owners.write_bytes(content.encode() if isinstance(content, str) else content)

    with pytest.raises(CsvFormatError, match=message):
        import_crm_csvs(crm, owners=owners)


def test_a_missing_file_is_refused(crm: CrmPort, tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError, match="does not exist"):
        import_crm_csvs(crm, owners=tmp_path / "nope.csv")


def test_unknown_columns_are_ignored_with_one_warning_per_file(crm: CrmPort, tmp_path: Path) -> None:
    owners = _write(
        tmp_path,
        "owners.csv",
        "Owner_ID,name,email,team,region,active,capacity,slack_handle,notes\n"
        "OWN-1,Ada,ada@vendor.io,emea_smb,EMEA,true,10,@ada,likes tea\n"
        "OWN-2,Ben,ben@vendor.io,emea_smb,EMEA,true,10,@ben,\n",
    )

    report = import_crm_csvs(crm, owners=owners)

    assert report.rejected == 0 and report.loaded == 2
    assert report.files[0].ignored_columns == ["slack_handle", "notes"]
    assert report.format().count("ignored unknown columns slack_handle, notes") == 1
    assert "slack_handle" not in crm.get_record(ObjectType.OWNER, record_id="OWN-1").fields


def test_report_format_lists_counts_and_each_rejection_with_file_and_line(
    crm: CrmPort, tmp_path: Path
) -> None:
    owners = _write(tmp_path, "owners.csv", OWNERS + "OWN-3,Carl,carl@vendor.io,emea_smb,EMEA,true,-1\n")

    text = import_crm_csvs(crm, owners=owners).format()

    assert "owners.csv  loaded    2 (2 new, 0 updated, 0 unchanged)  rejected   1" in text
    assert "owners.csv:4  OWN-3  capacity '-1': Input should be greater than or equal to 0" in text
