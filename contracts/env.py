"""The offline environment every process we start inherits: nothing may reach a hub at run time."""

from __future__ import annotations

import os

TRACEBACK_ENV = "LUMINA_TRACEBACK"  # "1": a one-line error also prints its traceback (every lumina command)

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "TOKENIZERS_PARALLELISM": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # Prefect's client (the SDK) has telemetry of its own, off only with DO_NOT_TRACK; without it a
    # terminal's first run printed "Prefect collects anonymous usage data"
    "DO_NOT_TRACK": "1",
    # Idle OpenMP threads sleep instead of spinning. On an idle 2-core machine spinning makes a
    # training step ~25% faster (image demo model: 0.42 vs 0.55 s), but as soon as anything else
    # runs, spinning threads wait for descheduled ones: the image demo's e2e test took 444 s against
    # 156 s with one other busy thread. Set OMP_WAIT_POLICY yourself to choose otherwise.
    "OMP_WAIT_POLICY": "PASSIVE",
    # Prefect's temporary server gives up after 20 s by default, which a busy 2-core machine exceeds
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def apply_offline_env() -> None:
    """Set the offline variables unless the user set them already."""
    for k, v in OFFLINE_ENV.items():
        os.environ.setdefault(k, v)
