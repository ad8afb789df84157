"""The library refresh (flows.refresh.refresh_source, `lumina refresh`) runs without Prefect, and
importing it does not import Prefect either: `import flows.refresh` imported Prefect at module level
for its flow (1.1 s of CPU, most of the import), which only the scheduled deployment runs. The flow
is made the first time ``refresh_flow`` is asked for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# a refresh of an empty folder into a new workspace: the catalog made, the listing staged and
# committed, the live manifests re-frozen (a no-op refresh's path), then what it left imported
PROBE = """
import json, sys
import flows.refresh
imported = "prefect" in sys.modules
from flows.refresh import refresh_source
result = refresh_source(sys.argv[1], sys.argv[2], backend="local")
print(json.dumps({"on_import": imported, "after_refresh": "prefect" in sys.modules, "noop": result.noop}))
"""


def test_importing_and_running_the_library_refresh_imports_no_prefect(tmp_path):
    (tmp_path / "empty").mkdir()
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "empty"), str(tmp_path / "home")], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"on_import": False, "after_refresh": False, "noop": True}, out


def test_the_flow_is_still_the_deployment_entrypoint():
    """prefect.yaml's entrypoint flows/refresh.py:refresh_flow, as a worker loads it (by path)."""
    from prefect.flows import Flow, load_flow_from_entrypoint

    import flows.refresh

    flow = load_flow_from_entrypoint(f"{REPO / 'flows' / 'refresh.py'}:refresh_flow", use_placeholder_flow=False)
    assert isinstance(flow, Flow) and flow.name == "refresh" and flow.fn.__name__ == "refresh_flow"
    assert isinstance(flows.refresh.refresh_flow, Flow) and flows.refresh.refresh_flow.name == "refresh"
    assert list(flow.parameters.properties) == ["source", "modality", "home", "options", "encode_options",
                                                "live_manifests", "backend", "ray_address", "allow_empty_source"]
