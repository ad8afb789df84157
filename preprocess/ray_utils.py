"""Ray start-up and a progress-reporting gather, shared by the stages."""

from __future__ import annotations

import logging
import os
from typing import Any, Callable

from tqdm.auto import tqdm

# Ray workers inherit these; none of them may reach a hub, and Ray's own telemetry stays off.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "TOKENIZERS_PARALLELISM": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "OMP_WAIT_POLICY": "PASSIVE",  # idle OpenMP threads sleep: processes share few cores
}


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Start (or join) Ray once per process. address=None starts a local instance;
    RAY_ADDRESS or address="auto" joins a running cluster."""
    import ray

    for k, v in OFFLINE_ENV.items():
        os.environ.setdefault(k, v)
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    kwargs: dict[str, Any] = dict(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    if address:
        ray.init(address=address, **kwargs)
    else:
        # The working directory is on every worker's path already (same machine); ship env only.
        ray.init(num_cpus=num_cpus or os.cpu_count(), runtime_env={"env_vars": OFFLINE_ENV}, **kwargs)


def gather(refs: list, desc: str, on_result: Callable[[Any], None] | None = None) -> list:
    """ray.get with a progress bar; results come back in the order of refs."""
    import ray

    index = {ref: i for i, ref in enumerate(refs)}
    results: list[Any] = [None] * len(refs)
    pending = list(refs)
    with tqdm(total=len(refs), desc=desc, unit="task", leave=True) as bar:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                results[index[ref]] = value = ray.get(ref)
                if on_result:
                    on_result(value)
                bar.update(1)
    return results
