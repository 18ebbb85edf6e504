from __future__ import annotations

import csv
from pathlib import Path

import pytest

from integrations.enrichment.reference_file import ReferenceFileError, ReferenceFileProvider

DEMO_FILE = Path(__file__).resolve().parents[3] / "demo" / "firmographics.csv"
HEADER = "domain,name,country,employees,industry,confidence\n"


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "firmographics.csv"
    path.write_text(text, encoding=encoding)
    return path


def test_lookup_uses_the_registrable_domain_whatever_the_caller_passes(tmp_path: Path, clock) -> None:
    path = write(tmp_path, HEADER + 'Acme.co.uk,Acme Ltd,gb,"1,200",software,0.92\n')
    provider = ReferenceFileProvider(path, clock=clock)

    for asked in ("acme.co.uk", "ACME.CO.UK", "https://www.shop.acme.co.uk/about", "sales@acme.co.uk"):
        found = provider.lookup(asked)
        assert found is not None, asked
        assert (found.domain, found.name, found.country, found.employees) == (
            "acme.co.uk",
            "Acme Ltd",
            "GB",
            1200,
        )
        assert (found.industry, found.confidence, found.provider) == ("software", 0.92, "reference_file")
        assert found.fetched_at == clock.now


def test_unknown_domain_is_not_found(tmp_path: Path) -> None:
    provider = ReferenceFileProvider(write(tmp_path, HEADER + "acme.com,Acme,US,10,software,0.9\n"))

    assert provider.lookup("other.com") is None
    assert provider.lookup("not a domain") is None


def test_bad_rows_are_reported_with_their_line_number_and_skipped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + "good-one.com,Good One,US,10,software,0.9\n"  # line 2
        + "bad-country.com,Bad Country,UK,10,software,0.9\n"  # 3: UK is not alpha-2 (GB is)
        + "bad-employees.com,Bad Employees,US,about 300,software,0.9\n"  # 4
        + "negative.com,Negative,US,-5,software,0.9\n"  # 5
        + "bad-confidence.com,Bad Confidence,US,10,software,1.5\n"  # 6
        + "short-row.com,Short Row,US\n"  # 7
        + ",No Domain,US,10,software,0.9\n"  # 8
        + "good-one.com,Good One Again,US,99,software,0.9\n"  # 9: duplicate
        + "fractional.com,Fractional,US,10.5,software,0.9\n"  # 10
        + "good-two.de,Good Two,DE,2000,fintech,0.4\n",  # 11
    )

    provider = ReferenceFileProvider(path)

    assert [problem.line_number for problem in provider.problems] == [3, 4, 5, 6, 7, 8, 9, 10]
    reasons = {problem.line_number: problem.reason for problem in provider.problems}
    assert "country" in reasons[3]
    assert "about 300" in reasons[4]
    assert "employees" in reasons[5]
    assert "confidence" in reasons[6]
    assert "first on line 2" in reasons[9]
    assert str(provider.problems[0]).startswith("line 3: ")
    assert len(provider) == 2
    good_one = provider.lookup("good-one.com")
    assert good_one is not None
    assert good_one.employees == 10
    assert provider.lookup("good-two.de") is not None
    assert provider.lookup("bad-country.com") is None


def test_bad_rows_are_logged_not_fatal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, HEADER + "x.com,X,ZZ,10,software,0.9\n")

    provider = ReferenceFileProvider(path)

    assert len(provider) == 0
    assert "line 2" in caplog.text


def test_spreadsheet_byte_order_mark_and_column_order_do_not_matter(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "confidence,Industry,employees,country,name,domain,notes\n0.8,retail,40,fr,Boutique,boutique.fr,x\n",
        encoding="utf-8-sig",
    )

    found = ReferenceFileProvider(path).lookup("boutique.fr")

    assert found is not None
    assert (found.country, found.employees, found.industry) == ("FR", 40, "retail")


def test_a_file_without_the_required_columns_is_refused_naming_them(tmp_path: Path) -> None:
    path = write(tmp_path, "domain,name,country\nacme.com,Acme,US\n")

    with pytest.raises(ReferenceFileError, match="employees, industry, confidence"):
        ReferenceFileProvider(path)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReferenceFileError, match="not found"):
        ReferenceFileProvider(tmp_path / "nope.csv")


def test_demo_file_is_clean_and_holds_the_segments_the_demo_routes() -> None:
    provider = ReferenceFileProvider(DEMO_FILE)
    with DEMO_FILE.open(newline="") as handle:
        rows = [provider.lookup(line["domain"]) for line in csv.DictReader(handle)]

    assert provider.problems == []
    assert all(rows)
    assert len(provider) == len(rows) >= 50
    emea = {
        "DE",
        "GB",
        "FR",
        "NL",
        "SE",
        "IE",
        "CH",
        "AE",
        "ZA",
        "ES",
        "IT",
        "NO",
        "PL",
        "DK",
        "AT",
        "PT",
        "FI",
    }
    big_emea_fintechs = [
        row
        for row in rows
        if row and row.industry == "fintech" and row.country in emea and row.employees > 1000
    ]
    assert len(big_emea_fintechs) >= 5
    assert sum(1 for row in rows if row and row.confidence < 0.5) >= 5
