r"""Every wait on the cluster has a timeout (fakes, no cluster started)."""
import types

from torch_geometric_temporal.distributed.cluster import close_cluster, scheduler_workers


class _Closable:
    def __init__(self, fail=False):
        self.timeouts, self.fail = [], fail

    def close(self, timeout=None):
        self.timeouts.append(timeout)
        if self.fail:
            raise TimeoutError("close timed out")


def test_close_cluster_bounds_both_closes_and_never_raises():
    client, cluster = _Closable(), _Closable(fail=True)
    close_cluster(cluster, client, timeout=7.0)  # a cluster that does not close in time: logged, not raised
    assert client.timeouts == [7.0] and cluster.timeouts == [7.0]


def test_scheduler_workers_asks_with_a_timeout():
    calls = []

    def sync(func, *args, callback_timeout=None, **kwargs):
        calls.append(callback_timeout)
        return {"workers": {"tcp://127.0.0.1:1": {"host": "127.0.0.1"}}}

    client = types.SimpleNamespace(sync=sync, scheduler=types.SimpleNamespace(identity=None))
    assert list(scheduler_workers(client, timeout=5.0)) == ["tcp://127.0.0.1:1"]
    assert list(scheduler_workers(client)) == ["tcp://127.0.0.1:1"]
    assert calls == [5.0, 60.0]
