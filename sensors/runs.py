"""What the sensors ask of the Dagster instance: is a `process_leads` run queued or running?

The warehouse has one writer, so a sensor that finds a run in flight waits, and the next run takes
everything that arrived meanwhile.
"""

from dagster import DagsterRunStatus, RunsFilter, SensorEvaluationContext

PROCESS_LEADS_JOB_NAME = "process_leads"

IN_FLIGHT_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


def batch_in_flight(context: SensorEvaluationContext) -> bool:
    runs = context.instance.get_runs(
        filters=RunsFilter(job_name=PROCESS_LEADS_JOB_NAME, statuses=IN_FLIGHT_STATUSES), limit=1
    )
    return bool(runs)
