r"""PeMS: speeds of 11,160 sensors across California."""
from torch_geometric_temporal.dataset._traffic import HDF5TrafficLoader

#: Argonne Box links used by upstream PGT-I.
URLS = {
    "pems_cali_adj_mat.pkl":
        "https://anl.app.box.com/shared/static/4143x1repqa1u26aiz7o2rvw3vpcu0wp",
    "pems_cali_speed.h5":
        "https://anl.app.box.com/shared/static/7hfhtie02iufy75ac1d8g8530majwci0",
}


class PemsDatasetLoader(HDF5TrafficLoader):
    r"""A traffic forecasting dataset for the entirety of California
    (11,160 sensors), collected by the California Transportation Agencies
    (CalTrans) Performance Measurement System (PeMS). For details see
    `"Graph-partitioning-based diffusion convolutional recurrent neural
    network for large-scale traffic forecasting"
    <https://arxiv.org/abs/1909.11197>`_.

    Files (upstream layout): ``pems_cali_adj_mat.pkl`` (DCRNN's
    ``[sensor_ids, id_to_index, adj]``) and ``pems_cali_speed.h5`` (pandas
    table under key ``df``), or PGT-I's names for them, ``adj_mx_pems.pkl``
    and ``pems.h5``. The series is ``(T, N, 2)`` (speed, time of day);
    at this size use ``get_index_dataset(..., mmap=True)`` (a ``.npy`` copy
    is memory-mapped and standardized at gather time) or a GPU device.

    Args: see :class:`~torch_geometric_temporal.dataset.PemsAllLADatasetLoader`
    (default folder ``pems``).
    """

    name = "pems"
    adj_name = "pems_cali_adj_mat.pkl"
    speed_name = "pems_cali_speed.h5"
    pgti_names = (("adj_mx_pems.pkl", "pems.h5"),)
    urls = URLS
    signal_target = 0
