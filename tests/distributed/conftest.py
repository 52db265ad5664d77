"""Fixtures of the distributed tests: a two-worker Dask ``LocalCluster`` on
loopback, shared by the tests of one module."""
import pytest

from torch_geometric_temporal.distributed.cluster import close_cluster, start_cluster


@pytest.fixture(scope="module")
def client():
    """A client of a two-worker local cluster (one thread per worker)."""
    cluster, client = start_cluster(2, timeout=60)
    try:
        yield client
    finally:
        close_cluster(cluster, client)
