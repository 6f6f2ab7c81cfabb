"""`releasegate setup`: make the Prefect server ready for workers, idempotently.

On the Prefect server in use it creates (or leaves as they are, when already right):

- the `process` work pool (`releasegate` unless named), which `prefect worker start --pool
  releasegate` serves: each flow run is a subprocess of the worker, in the checkout;
- every environment's lock (a global concurrency limit of 1, `tasks/lock.py`) and the
  automation that marks dead runs Crashed (`tasks/zombies.py`);
- the `deploy/<app>` and `rollback/<app>-<environment>` deployments on that pool, with the
  push trigger, from the same specs `releasegate serve` serves (`serving.specs`: names,
  frozen environments, descriptions).
  `prefect.yaml` declares the same deployments for `prefect deploy --all`; a test keeps the
  three in agreement.

The configuration stays the worker's (RELEASEGATE_CONFIG in its environment): no deployment
carries it. Running setup again re-applies the deployments and changes nothing else (an
environment renamed since leaves its old rollback deployment behind: delete it).
"""

from __future__ import annotations

from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.runner.storage import LocalStorage
from prefect.workers.process import ProcessWorker

from releasegate import serving
from releasegate.config import Config
from releasegate.errors import ConfigError
from releasegate.tasks.lock import ensure_limits
from releasegate.tasks.zombies import ensure_zombie_detection

POOL = "releasegate"
POOL_TYPE = "process"


def checkout() -> Path:
    """The directory holding `flows/`: the repository (an editable install) or the
    installed package. A worker runs the entrypoints relative to it."""
    from releasegate.flows import deploy

    return Path(deploy.__file__).resolve().parents[1]


def run(settings: Config, pool: str = POOL, where: Path | None = None) -> list[str]:
    """Set the server up for `settings`; the names of the deployments applied."""
    ensure_pool(pool)
    ensure_limits(settings)
    ensure_zombie_detection()
    storage = LocalStorage(str(where or checkout()))
    applied = []
    for spec in serving.specs(settings):
        deployment = RunnerDeployment.from_storage(
            storage, spec.entrypoint, spec.name, work_pool_name=pool, **spec.options
        )
        assert isinstance(deployment, RunnerDeployment)  # the sync call returns the value
        deployment.apply()
        applied.append(spec.full_name)
    return applied


def ensure_pool(name: str) -> None:
    """The `process` work pool `name` exists; one of another type is a configuration error."""
    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(name)
        except ObjectNotFound:
            template = ProcessWorker.get_default_base_job_template()
            wanted = WorkPoolCreate(name=name, type=POOL_TYPE, base_job_template=template)
            try:
                client.create_work_pool(wanted)
                return
            except ObjectAlreadyExists:  # another setup created it meanwhile
                pool = client.read_work_pool(name)
    if pool.type != POOL_TYPE:
        raise ConfigError(
            f"work pool {name!r} exists with type {pool.type!r}; releasegate's workers need "
            f"a {POOL_TYPE!r} pool: name another with --pool"
        )
