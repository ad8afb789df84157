"""The shared private Ray cluster's names for the Ray Train tests that join it: the cluster, its
fixtures (`ray_cluster`, `ray_address`) and the hook that stops it are tests/shared_ray_cluster.py's
and tests/conftest.py's, so tests of other folders (tests/flows/test_ray_cluster.py) join it too.
tests/training/test_ray_launcher_cluster_lost.py and test_ray_node_lost.py kill their cluster and
keep one of their own.
"""

from __future__ import annotations

from tests.shared_ray_cluster import CLUSTER as _CLUSTER  # noqa: F401 (tests read its temp_dir)
from tests.shared_ray_cluster import RAY_GROUP, ray_cluster_group  # noqa: F401
