"""A user's own Prefect server restarted while a flow run holds the `lumina-catalog-writer` slot
(docs/deployments.md, "Set up once"). Prefect 3.9 keeps the slot's lease in the server's memory by
default: after the restart the holder's release names a lease the server no longer knows, the slot
stays taken, and every later refresh, curate and encode waited at its first catalog write for ever
(a scheduled refresh deployment, 2026-12-06). With the server environment the docs' set-up block
exports, the lease is on disk and the release after the restart frees the slot."""

from __future__ import annotations

import os
from pathlib import Path

from tests.flows.prefect_db_s57c import seed_prefect_db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "deployments.md"


def _setup_exports() -> dict[str, str]:
    """What the `export` lines of the docs' "Set up once" block set, as the shell would."""
    block = DOCS.read_text().split("## Set up once", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    env = {}
    for line in block.splitlines():
        if line.startswith("export "):
            for word in line.split("#", 1)[0].split()[1:]:
                name, _, value = word.partition("=")
                env[name] = value
    return env


def test_a_writer_slot_held_across_a_server_restart_is_freed_by_its_release(tmp_path, tmp_path_factory):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.local_prefect import free_port, server_env, start_server, stop_server
    from flows.steps import CATALOG_WRITER

    exports = _setup_exports()
    assert "PREFECT_API_URL" in exports, exports  # the block was found
    env = server_env({k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"})
    env.update({k: v for k, v in exports.items() if k != "PREFECT_API_URL"})  # this test's own port instead
    env["PREFECT_HOME"] = str(tmp_path / "prefect_home")  # the server's database and, with the docs' setting, its leases
    seed_prefect_db(tmp_path / "prefect_home" / "prefect.db", tmp_path_factory)  # migrated: ~8 s less CPU
    env["PREFECT_API_BLOCKS_REGISTER_ON_START"] = "false"  # ~0.8 s of the start; nothing here reads a block
    port = free_port()
    proc, url = start_server(env, port=port)
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}), get_client(sync_client=True) as client:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=CATALOG_WRITER, limit=1))
            # what a flow run's catalog_writer() takes (prefect.concurrency.sync.concurrency, 300 s lease renewed)
            taken = client.increment_concurrency_slots_with_lease(
                names=[CATALOG_WRITER], slots=1, mode="concurrency", lease_duration=300).json()
            assert client.read_global_concurrency_limit_by_name(CATALOG_WRITER).active_slots == 1
            stop_server(proc)  # the user restarts the server while the run holds the slot
            proc, _ = start_server(env, port=port)
            client.release_concurrency_slots_with_lease(taken["lease_id"])  # the run's release, after the restart
            left = client.read_global_concurrency_limit_by_name(CATALOG_WRITER).active_slots
    finally:
        stop_server(proc)
    assert left == 0, (f"the {CATALOG_WRITER} slot stayed taken after a server restart: every later catalog write "
                       f"would wait for ever (server environment from the docs: {exports})")
