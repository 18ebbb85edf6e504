"""Issue #10's intake check end to end on the production path: a signed HTTP batch lands, the new_leads
sensor sees the file and asks for a run, and that run (executed here, in-process) decides the valid events.

One job execution (about a minute on 2 cores), on a copy of the session's prepared warehouse.
"""

from __future__ import annotations

import json

import pytest
from dagster import RunRequest, SkipReason, build_sensor_context

from tests.intake.intake_helpers import client_for, post_signed, three_good_one_bad

pytestmark = pytest.mark.slow


def test_signed_batch_of_three_valid_and_one_invalid_is_decided_by_the_sensor_path(pipeline, capsys):
    from dagster_project.cli import main
    from dagster_project.definitions import build_definitions

    answer = post_signed(client_for(pipeline.settings.landing_dir), three_good_one_bad())
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["accepted"] == ["evt-1", "evt-2", "evt-3"]
    assert [(item["index"], item["event_id"]) for item in body["rejected"]] == [(2, "evt-bad")]

    definitions = build_definitions(pipeline.settings)
    sensor = definitions.resolve_sensor_def("new_leads_sensor")
    with build_sensor_context(
        instance=pipeline.instance, resources={"landing": definitions.resources["landing"]}
    ) as context:
        request = sensor(context)
        assert isinstance(request, RunRequest), request
        assert request.run_config["ops"]["raw_inbound_events"]["config"]["files"] == [body["landed_file"]]

        result = definitions.resolve_job_def("process_leads").execute_in_process(
            run_config=request.run_config, tags=request.tags, instance=pipeline.instance
        )
        assert result.success
        assert not [event.step_key for event in result.all_events if event.is_step_skipped]
        # The cursor keeps the handed-over file: the next tick asks for nothing while it is still landed,
        # and nothing once ingest archived it.
        assert isinstance(sensor(context), SkipReason)

    assert main(["events", "--format", "json"]) == 0
    fates = [row for row in json.loads(capsys.readouterr().out) if row["file_name"] == body["landed_file"]]
    assert [(row["line_number"], row["event_id"], row["status"]) for row in fates] == [
        (1, "evt-1", "processed"),
        (2, "evt-2", "processed"),
        (3, "evt-bad", "quarantined"),
        (4, "evt-3", "processed"),
    ]
    assert fates[2]["reason"] == body["rejected"][0]["reason"]
    assert all(row["lead_id"] and row["disposition"] for row in fates if row["status"] == "processed")
