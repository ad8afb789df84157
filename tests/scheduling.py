"""How `make test`'s two xdist workers share the suite (--dist loadgroup); registered by tests/conftest.py.

Three things, none of which changes what a test does or asserts:

1. `xdist_group` works again. pytest 9.2 keeps a node's id in `item._id` (a structured NodeId) and
   pytest-xdist 3.8 still writes the group suffix into `item._nodeid`, which nothing reads any more:
   every group was silently spread over both workers (pytest-dev/pytest-xdist#1386), so the end-to-end
   tests that share one Prefect server started one per worker. The suffix is put where pytest 9.2
   reads it; where xdist's own suffix took (older pytest) nothing is done.
2. A module with a module-scoped fixture runs on one worker (its own group, named after the file), so
   that fixture (a local Ray, a one-step checkpoint, a curated corpus) is built once, not once per
   worker. A test that already names a group keeps it.
3. Under xdist, tests marked `slow` are handed out first, so the last tests of the run are short ones and
   neither worker waits on the other's long tail. xdist hands out work units (a group, or a test of
   no group) in the order of their first test in the collection once its own reordering (units with
   the most tests first, whatever they cost) is off.
"""

from __future__ import annotations

import pytest

SLOW = "slow"


def _groups(item: pytest.Item) -> set[str]:
    return {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")}


def _module_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    for name in info.names_closure:
        defs = info.name2fixturedefs.get(name)
        if defs and defs[-1].scope in ("module", "package", "class"):
            return True
    return False


def _has_group_suffix(nodeid: str) -> bool:
    return nodeid.rfind("@") > nodeid.rfind("]")  # xdist's own test (LoadGroupScheduling._split_scope)


class Scheduling:
    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        for item in items:
            if not _groups(item) and _module_fixture(item):
                item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
        if hasattr(config, "workerinput"):  # an xdist worker; a one-process run keeps the files' order
            items.sort(key=lambda item: item.get_closest_marker(SLOW) is None)  # stable: slow first, order kept


class GroupIds:
    """After xdist's own pytest_collection_modifyitems (trylast): the suffix pytest 9.2 drops."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if not getattr(config.option, "loadgroup", False):
            return
        for item in items:
            groups = _groups(item)
            if not groups or _has_group_suffix(item.nodeid) or not hasattr(item, "_id"):
                continue
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(sorted(groups))}")


def register(config: pytest.Config) -> None:
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False  # the collection's order below decides (see 3.)
    config.pluginmanager.register(Scheduling(), "lumina-scheduling")
    config.pluginmanager.register(GroupIds(), "lumina-xdist-group-ids")
