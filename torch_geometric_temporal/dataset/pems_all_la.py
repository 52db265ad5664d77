r"""PeMS-All-LA: speeds of all PeMS sensors in Los Angeles."""
from torch_geometric_temporal.dataset._traffic import HDF5TrafficLoader

#: Argonne Box links used by upstream PGT-I.
URLS = {
    "pems_AllLA_adj_mat.pkl":
        "https://anl.app.box.com/shared/static/9qc2lc1147xzh8kmq3j4fuo4buiksxua",
    "pems_AllLA_speed.h5":
        "https://anl.app.box.com/shared/static/crzf75ein8s839de8fklpubauddv1p6w",
}


class PemsAllLADatasetLoader(HDF5TrafficLoader):
    r"""A traffic forecasting dataset covering Los Angeles, collected by the
    California Transportation Agencies (CalTrans) Performance Measurement
    System (PeMS). For details see `"Graph-partitioning-based diffusion
    convolutional recurrent neural network for large-scale traffic
    forecasting" <https://arxiv.org/abs/1909.11197>`_.

    Files (upstream layout): ``pems_AllLA_adj_mat.pkl`` (DCRNN's
    ``[sensor_ids, id_to_index, adj]``, unpickled with a restricted
    unpickler) and ``pems_AllLA_speed.h5`` (pandas table under key ``df``,
    DatetimeIndex x sensors), or PGT-I's names for them (``pems-all-la.h5``
    with ``adj_mx_pems-all-la.pkl`` or ``adj_mx_all_la.pkl``). The series is
    ``(T, N, 2)``: speed and time of
    day (derived from the index). Upstream only offers index batching here;
    :meth:`get_dataset` works too (memory permitting).

    Args:
        raw_data_dir (str or Path, optional): folder of the files; default
            ``$PGT_DATA_DIR/pems_all_la`` (when set), ``./data`` or
            ``~/.cache/torch_geometric_temporal/pems_all_la``.
        index (bool): accepted for upstream compatibility.
        download (bool, optional): allow downloading missing files.
        num_nodes (int, optional): expected sensor count; default any.
        validate (bool): reject NaN/inf speeds and NaN-only sensors.
        adj_filename, speed_filename (str, optional): other file names, e.g.
            DCRNN's ``adj_mx.pkl`` and ``metr-la.h5``.
    """

    name = "pems_all_la"
    adj_name = "pems_AllLA_adj_mat.pkl"
    speed_name = "pems_AllLA_speed.h5"
    pgti_names = (("adj_mx_pems-all-la.pkl", "pems-all-la.h5"),
                  ("adj_mx_all_la.pkl", "pems-all-la.h5"))
    urls = URLS
    signal_target = 0
