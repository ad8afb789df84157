"""The offline environment every process we start inherits: nothing may reach a hub at run time."""

from __future__ import annotations

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "TOKENIZERS_PARALLELISM": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # Prefect's temporary server gives up after 20 s by default, which a busy 2-core machine exceeds
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


# Ray's workers only: many of them share a few cores, so idle OpenMP threads sleep instead of
# spinning. Not the driver: it trains, and there sleeping threads cost a 2-core CPU step ~30%
# (0.42 -> 0.55 s for the image demo's model).
WORKER_ENV = {**OFFLINE_ENV, "OMP_WAIT_POLICY": "PASSIVE"}


def apply_offline_env() -> None:
    """Set the offline variables unless the user set them already."""
    for k, v in OFFLINE_ENV.items():
        os.environ.setdefault(k, v)
