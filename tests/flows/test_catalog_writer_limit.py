"""`lumina demo`'s own Prefect server gets the catalog-writer limit that docs/deployments.md has a
deployment's server given by hand, so catalog writes are serialised there too and Prefect does not
warn at each of them that the limit is missing."""

from __future__ import annotations

import pytest

from flows.steps import CATALOG_WRITER, create_catalog_writer_limit

pytestmark = pytest.mark.xdist_group("prefect_server")  # the shared test server's worker


def test_the_catalog_writer_limit_is_created_once_with_one_slot(prefect_api_url):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: prefect_api_url}):
        with get_client(sync_client=True) as client:
            if any(gcl.name == CATALOG_WRITER for gcl in client.read_global_concurrency_limits()):
                client.delete_global_concurrency_limit_by_name(CATALOG_WRITER)  # another test's
        assert create_catalog_writer_limit() is True
        assert create_catalog_writer_limit() is False  # already there: left as it is
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(CATALOG_WRITER)
    assert limit.limit == 1 and limit.active
