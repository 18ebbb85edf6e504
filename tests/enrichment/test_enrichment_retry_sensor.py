"""The enrichment retry sensor: reads only the reader copy, one run per due moment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import (
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_sensor_context,
)
from enrichment_test_warehouse import write_rows

from assets.enrichment.domain_firmographics import DomainRow, DomainStatus
from dagster_project.settings import Settings
from sensors.enrichment_retry import RERUN_AFTER_FAILURE, enrichment_retry_sensor, retry_run_key


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LEADOPS_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def reader_copy(home: Path) -> Path:
    return Settings.from_env().reader_warehouse_path


def tick(instance: DagsterInstance):
    return enrichment_retry_sensor(build_sensor_context(instance=instance))


def parked(domain: str, *, next_in: timedelta, deadline_in: timedelta = timedelta(minutes=20)) -> DomainRow:
    now = datetime.now(UTC)
    return DomainRow(
        domain=domain,
        status=DomainStatus.PENDING_RETRY,
        attempts=1,
        first_requested_at=now - timedelta(minutes=10),
        last_attempt_at=now - timedelta(minutes=1),
        next_attempt_at=now + next_in,
        deadline_at=now + deadline_in,
        error="vendor: HTTP 503",
    )


def settled(domain: str, status: DomainStatus) -> DomainRow:
    long_ago = datetime.now(UTC) - timedelta(days=1)
    return DomainRow(
        domain=domain,
        status=status,
        attempts=1,
        first_requested_at=long_ago,
        deadline_at=long_ago,
        expires_at=long_ago,  # expired rows are refreshed by the next run, but nobody waits for them
    )


def test_the_sensor_requests_the_process_leads_job() -> None:
    assert enrichment_retry_sensor.job_name == "process_leads"


def test_no_reader_copy_yet_is_a_skip(home: Path, instance: DagsterInstance) -> None:
    result = tick(instance)

    assert isinstance(result, SkipReason)
    assert not reader_copy(home).exists()


def test_a_reader_copy_without_the_enrichment_table_is_a_skip(home: Path, instance: DagsterInstance) -> None:
    with duckdb.connect(str(reader_copy(home))) as con:
        con.execute("create table crm_only (id integer)")

    assert isinstance(tick(instance), SkipReason)


def test_nothing_due_is_a_skip_even_with_expired_settled_rows(home: Path, instance: DagsterInstance) -> None:
    write_rows(
        reader_copy(home),
        [
            parked("later.io", next_in=timedelta(minutes=3)),
            settled("old.io", DomainStatus.FOUND),
            settled("gone.io", DomainStatus.UNAVAILABLE),
        ],
    )

    result = tick(instance)

    assert isinstance(result, SkipReason) and "due" in result.skip_message


def test_a_due_retry_requests_one_run_keyed_by_the_earliest_due_moment(
    home: Path, instance: DagsterInstance
) -> None:
    write_rows(
        reader_copy(home),
        [
            parked("first.io", next_in=-timedelta(minutes=2)),
            parked("second.io", next_in=-timedelta(seconds=5)),
            parked("later.io", next_in=timedelta(minutes=3)),
        ],
    )

    first, again = tick(instance), tick(instance)

    assert isinstance(first, RunRequest) and isinstance(again, RunRequest)
    assert first.run_key == again.run_key  # Dagster drops the repeat
    assert first.run_key.startswith("enrichment-retry-")
    assert first.tags["leadops/due_domains"] == "2"


def test_a_later_due_moment_gets_a_new_run_key(home: Path, instance: DagsterInstance) -> None:
    write_rows(reader_copy(home), [parked("acme.io", next_in=-timedelta(minutes=2))])
    before = tick(instance)
    # The run retried it and published a copy in which it waits for a later moment, now also due.
    write_rows(reader_copy(home), [parked("acme.io", next_in=-timedelta(seconds=1))])
    after = tick(instance)

    assert isinstance(before, RunRequest) and isinstance(after, RunRequest)
    assert before.run_key != after.run_key


def test_a_domain_past_its_deadline_is_due_before_its_next_attempt(
    home: Path, instance: DagsterInstance
) -> None:
    write_rows(
        reader_copy(home),
        [parked("late.io", next_in=timedelta(minutes=5), deadline_in=-timedelta(seconds=1))],
    )

    assert isinstance(tick(instance), RunRequest)


def test_due_retries_wait_while_a_process_leads_run_is_in_flight(
    home: Path, instance: DagsterInstance
) -> None:
    write_rows(reader_copy(home), [parked("acme.io", next_in=-timedelta(minutes=1))])
    in_flight = instance.add_run(
        DagsterRun(job_name="process_leads", run_id="r1", status=DagsterRunStatus.STARTED)
    )

    waiting = tick(instance)
    instance.delete_run(in_flight.run_id)
    afterwards = tick(instance)

    assert isinstance(waiting, SkipReason) and "in progress" in waiting.skip_message
    assert isinstance(afterwards, RunRequest)


def test_due_rows_in_the_live_warehouse_are_not_read(home: Path, instance: DagsterInstance) -> None:
    # Only the run opens the live file; the sensor waits for the copy that run publishes.
    write_rows(Settings.from_env().warehouse_path, [parked("acme.io", next_in=-timedelta(minutes=1))])

    result = tick(instance)

    assert isinstance(result, SkipReason) and str(reader_copy(home)) in result.skip_message


def test_a_due_moment_left_by_a_failed_run_is_requested_again_only_after_a_while() -> None:
    due = datetime(2025, 3, 10, 9, 0)

    keys = [
        retry_run_key(due, (due + offset).replace(tzinfo=UTC))
        for offset in (timedelta(0), RERUN_AFTER_FAILURE - timedelta(seconds=1), RERUN_AFTER_FAILURE)
    ]

    assert keys[0] == keys[1] != keys[2]
