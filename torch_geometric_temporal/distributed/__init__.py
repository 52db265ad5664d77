r"""Dask-launched PyTorch DDP: cluster start/connect, rank runs, data shards.

Importing this package does not import Dask; the functions that need it do.
"""
from torch_geometric_temporal.distributed.cluster import (
    DASK_CONFIG,
    close_cluster,
    cluster_client,
    connect_cluster,
    scheduler_workers,
    start_cluster,
    worker_addresses,
)
from torch_geometric_temporal.distributed.ddp import (
    DDPRunError,
    RankContext,
    default_backend,
    free_port,
    run_ddp,
    teardown_process_group,
)
from torch_geometric_temporal.distributed.sharding import (
    GlobalBatchSampler,
    ShardedIndexDataset,
    ShardPlan,
    ShardSampler,
    deal_blocks,
    split_blocks,
)

__all__ = [
    "DASK_CONFIG",
    "start_cluster",
    "connect_cluster",
    "close_cluster",
    "cluster_client",
    "worker_addresses",
    "scheduler_workers",
    "DDPRunError",
    "RankContext",
    "default_backend",
    "free_port",
    "run_ddp",
    "teardown_process_group",
    "ShardPlan",
    "ShardedIndexDataset",
    "ShardSampler",
    "GlobalBatchSampler",
    "deal_blocks",
    "split_blocks",
]
