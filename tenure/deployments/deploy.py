"""tenure's deployments (``prefect.yaml`` in this package), applied to a Prefect API.

The file is the one declaration of what is deployed and when. Its entrypoints are module paths
(``tenure.flows.agent_turn.agent_turn``), which a process worker runs by importing the installed
package: no checkout, no pull steps, no ``TENURE_REPO``. Applying is idempotent: the work pool is
created if missing and each deployment created or updated in place (the API upserts by flow and name).
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import DeploymentScheduleCreate, WorkPoolCreate
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.flows import load_flow_from_entrypoint
from prefect.utilities.callables import parameter_schema

from tenure.config import PrefectConfig

__all__ = ["SPEC", "DeploymentSpec", "apply", "specs"]

SPEC = Path(__file__).with_name("prefect.yaml")


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment of ``prefect.yaml``."""

    name: str
    entrypoint: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    """Each ``{"cron": "5 * * * *"}`` or ``{"interval": 300}`` (seconds)."""
    concurrency_limit: int | None = None

    @property
    def flow_name(self) -> str:
        return self.entrypoint.rsplit(".", 1)[1]

    def schedule_objects(self) -> list[DeploymentScheduleCreate]:
        made = []
        for schedule in self.schedules:
            if "cron" in schedule:
                cron = CronSchedule(cron=schedule["cron"], timezone="UTC")
                made.append(DeploymentScheduleCreate(schedule=cron))
            else:
                interval = IntervalSchedule(interval=timedelta(seconds=float(schedule["interval"])))
                made.append(DeploymentScheduleCreate(schedule=interval))
        return made


def specs(path: Path = SPEC) -> list[DeploymentSpec]:
    """The deployments the file declares."""
    declared = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        DeploymentSpec(
            name=d["name"],
            entrypoint=d["entrypoint"],
            description=d.get("description", ""),
            parameters=d.get("parameters") or {},
            schedules=d.get("schedules") or [],
            concurrency_limit=d.get("concurrency_limit"),
        )
        for d in declared["deployments"]
    ]


async def apply(api_url: str, settings: PrefectConfig, path: Path = SPEC) -> list[str]:
    """Create the process work pool if it is missing and create or update every deployment at the API
    ``api_url``; returns their names as ``flow/deployment``."""
    applied = []
    async with PrefectClient(api=api_url) as client:
        try:
            await client.read_work_pool(settings.pool)
        except ObjectNotFound:
            with suppress(ObjectAlreadyExists):  # another worker starting at the same moment created it
                await client.create_work_pool(WorkPoolCreate(name=settings.pool, type="process"))
        for spec in specs(path):
            flow = load_flow_from_entrypoint(spec.entrypoint, use_placeholder_flow=False)
            flow_id = await client.create_flow_from_name(flow.name)
            await client.create_deployment(
                flow_id=flow_id,
                name=spec.name,
                description=spec.description,
                entrypoint=spec.entrypoint,
                work_pool_name=settings.pool,
                parameters=spec.parameters,
                parameter_openapi_schema=parameter_schema(flow).model_dump(exclude_unset=True),
                schedules=spec.schedule_objects(),
                concurrency_limit=spec.concurrency_limit,
                tags=["tenure"],
                pull_steps=[],
                enforce_parameter_schema=False,
            )
            applied.append(f"{flow.name}/{spec.name}")
    return applied
