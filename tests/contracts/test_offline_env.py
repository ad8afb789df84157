"""The environment every process we start inherits keeps Prefect's client telemetry off too: the
server's analytics switch does not reach the SDK's, which only DO_NOT_TRACK turns off."""

from __future__ import annotations

import subprocess
import sys


def test_prefects_client_telemetry_is_off_in_our_processes():
    code = ("import os; from prefect._internal.analytics.ci_detection import CI_ENV_VARS; "
            "[os.environ.pop(k, None) for k in ('DO_NOT_TRACK', *CI_ENV_VARS)]; "
            "from contracts.env import apply_offline_env; apply_offline_env(); "
            "from prefect._internal.analytics.enabled import is_telemetry_enabled; print(is_telemetry_enabled())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr[-2000:]
