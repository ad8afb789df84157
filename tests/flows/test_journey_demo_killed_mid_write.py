"""`lumina demo` killed -9 while its flow held the `lumina-catalog-writer` slot: its own Prefect server
dies with it (flows/local_prefect.py) and Prefect's default kept the slot's lease in that server's
memory, with no service of an ephemeral server to free it. The slot stayed taken in the Prefect
database (PREFECT_HOME), and the next `lumina demo` waited at its first catalog write for ever
(reproduced 2026-12-06 with a flow that took the writer and killed itself). Now the lease is on
disk and the next run's server block frees the slots of expired leases while it lasts; a lease
not yet expired (a holder that may be alive) keeps its slot."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from uuid import UUID

from tests.flows.prefect_db_s57c import seed_prefect_db


def test_the_next_run_frees_the_writer_slot_of_a_run_killed_mid_write(tmp_path, monkeypatch, tmp_path_factory):
    from prefect.client.orchestration import get_client
    from prefect.server.concurrency.lease_storage.filesystem import ConcurrencyLeaseStorage

    from flows import local_prefect
    from flows.steps import CATALOG_WRITER, create_catalog_writer_limit

    prefect_home = tmp_path / "prefect_home"
    seed_prefect_db(prefect_home / "prefect.db", tmp_path_factory)  # its default database, migrated: ~8 s less CPU
    monkeypatch.setenv("PREFECT_HOME", str(prefect_home))  # the servers' database and leases
    monkeypatch.setenv("PREFECT_API_URL", "")  # no server of the user's: the block starts its own
    monkeypatch.setenv("PREFECT_API_BLOCKS_REGISTER_ON_START", "false")  # ~0.8 s of each start
    monkeypatch.setattr(local_prefect, "REAP_EVERY_S", 0.2, raising=False)
    with local_prefect.local_prefect_server(on_start=create_catalog_writer_limit), get_client(sync_client=True) as client:
        # what a flow run's catalog_writer() takes (prefect.concurrency.sync.concurrency); never released:
        # the process is killed -9 mid-write, its server dies with it
        taken = client.increment_concurrency_slots_with_lease(
            names=[CATALOG_WRITER], slots=1, mode="concurrency", lease_duration=300).json()

    with local_prefect.local_prefect_server(), get_client(sync_client=True) as client:  # the next lumina demo, at once
        time.sleep(0.5)  # passes of the reaper: the lease has not expired, its holder may be alive
        kept = client.read_global_concurrency_limit_by_name(CATALOG_WRITER).active_slots
        # a dead holder renews nothing: 300 s after its last renewal the lease has expired (here: now)
        asyncio.run(ConcurrencyLeaseStorage(prefect_home / "concurrency_leases").renew_lease(UUID(taken["lease_id"]), timedelta(0)))
        deadline = time.monotonic() + 15
        while (left := client.read_global_concurrency_limit_by_name(CATALOG_WRITER).active_slots) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert kept == 1, "a slot whose lease had not expired was freed"
    assert left == 0, f"the {CATALOG_WRITER} slot of a killed run stayed taken: the next run's catalog writes wait for ever"
