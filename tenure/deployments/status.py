"""What the Prefect API says about tenure right now: workers, deployments with their next runs, recent
runs and the failures of the last day, each with its address in the UI. Read-only; ``tenure up`` and
``tenure status`` render it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowFilter,
    FlowFilterId,
    FlowRunFilter,
    FlowRunFilterStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
    WorkPoolFilter,
    WorkPoolFilterName,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import ObjectNotFound

from tenure.deployments.api import ui_url

__all__ = ["DeploymentState", "RunState", "Status", "WorkerState", "read_status"]

FAILED = [StateType.FAILED, StateType.CRASHED]


@dataclass(frozen=True)
class WorkerState:
    name: str
    status: str
    last_heartbeat: datetime | None


@dataclass(frozen=True)
class DeploymentState:
    name: str
    """``flow/deployment``, as ``prefect deployment run`` takes it."""
    schedules: list[str]
    next_run: datetime | None
    paused: bool


@dataclass(frozen=True)
class RunState:
    name: str
    flow: str
    state: str
    when: datetime | None
    tags: list[str]
    url: str


@dataclass(frozen=True)
class Status:
    api_url: str
    ui_url: str
    pool_exists: bool
    workers: list[WorkerState]
    deployments: list[DeploymentState]
    recent: list[RunState]
    failed: list[RunState]


def describe_schedule(schedule: object) -> str:
    if isinstance(schedule, CronSchedule):
        return f"cron {schedule.cron} ({schedule.timezone or 'UTC'})"
    if isinstance(schedule, IntervalSchedule):
        return f"every {int(schedule.interval.total_seconds())} s"
    return type(schedule).__name__


async def read_status(api_url: str, pool: str, recent: int = 10) -> Status:
    """Read the state of tenure's pool, deployments and runs from the API at ``api_url``."""
    ui = ui_url(api_url)
    async with PrefectClient(api=api_url) as client:
        try:
            await client.read_work_pool(pool)
            workers = await client.read_workers_for_work_pool(pool)
            pool_exists = True
        except ObjectNotFound:
            workers, pool_exists = [], False
        pool_filter = WorkPoolFilter(name=WorkPoolFilterName(any_=[pool]))
        deployments = await client.read_deployments(work_pool_filter=pool_filter) if pool_exists else []
        scheduled = (
            await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[d.id for d in deployments])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
                ),
                sort=FlowRunSort.EXPECTED_START_TIME_ASC,
                limit=200,
            )
            if deployments
            else []
        )
        ran = FlowRunFilterState(type=FlowRunFilterStateType(not_any_=[StateType.SCHEDULED]))
        latest = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(state=ran), sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=recent
        )
        since = datetime.now(UTC) - timedelta(hours=24)
        failed = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=FAILED)),
                start_time=FlowRunFilterStartTime.model_validate({"after_": since}),
            ),
            sort=FlowRunSort.START_TIME_DESC,
            limit=50,
        )
        flow_ids = {d.flow_id for d in deployments} | {r.flow_id for r in [*latest, *failed]}
        flows = await client.read_flows(flow_filter=FlowFilter(id=FlowFilterId(any_=list(flow_ids))))
    flow_names: dict[UUID, str] = {f.id: f.name for f in flows}
    next_run: dict[UUID, datetime] = {}
    for run in scheduled:
        if run.deployment_id and run.expected_start_time and run.deployment_id not in next_run:
            next_run[run.deployment_id] = run.expected_start_time

    def run_state(run: FlowRun) -> RunState:
        return RunState(
            name=run.name,
            flow=flow_names.get(run.flow_id, "?"),
            state=(run.state.name if run.state else None) or "?",
            when=run.start_time or run.expected_start_time,
            tags=list(run.tags),
            url=f"{ui}/runs/flow-run/{run.id}",
        )

    return Status(
        api_url=api_url,
        ui_url=ui,
        pool_exists=pool_exists,
        workers=[
            WorkerState(w.name, str(w.status.value if w.status else "?"), w.last_heartbeat_time)
            for w in workers
        ],
        deployments=sorted(
            (
                DeploymentState(
                    name=f"{flow_names.get(d.flow_id, '?')}/{d.name}",
                    schedules=[describe_schedule(s.schedule) for s in d.schedules if s.active],
                    next_run=next_run.get(d.id),
                    paused=bool(d.paused),
                )
                for d in deployments
            ),
            key=lambda d: d.name,
        ),
        recent=[run_state(r) for r in latest],
        failed=[run_state(r) for r in failed],
    )
