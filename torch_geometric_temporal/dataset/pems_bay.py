r"""PeMS-BAY: speeds of 325 Bay Area sensors, January-May 2017."""
from torch_geometric_temporal.dataset._traffic import NpyZipTrafficLoader

#: Argonne Box link used by upstream PGT-I for ``PEMS-BAY.zip``.
URL = "https://anl.app.box.com/shared/static/7ealcaw862pm12sglyt5g71743eu7s5l"


class PemsBayDatasetLoader(NpyZipTrafficLoader):
    r"""A traffic forecasting dataset as described in the DCRNN paper,
    collected by California Transportation Agencies (CalTrans) Performance
    Measurement System (PeMS): 325 sensors in the Bay Area, 5-minute
    readings from January 1st to May 31st 2017 (52,116 steps). For details see
    `"Diffusion Convolutional Recurrent Neural Network: Data-Driven Traffic
    Forecasting" <https://arxiv.org/abs/1707.01926>`_.

    Files (upstream layout): ``PEMS-BAY.zip`` holding ``pems_adj_mat.npy``
    ``(325, 325)`` and ``pems_node_values.npy`` ``(52116, 325, 2)`` (speed,
    time of day); DCRNN's ``adj_mx_bay.pkl`` + ``pems-bay.h5`` are converted
    when the zip is not present (see :class:`METRLADatasetLoader` for the
    order and where derived arrays are written). As upstream,
    :meth:`get_dataset` targets hold both features (``y`` of shape
    ``(N, 2, T_out)``), and so do the index/base loaders' (``(B, T_out, N,
    2)``); ``target_features=(0,)`` keeps the speed only.

    Args: see :class:`~torch_geometric_temporal.dataset.METRLADatasetLoader`
    (default folder ``pems_bay``).
    """

    name = "pems_bay"
    zip_name = "PEMS-BAY.zip"
    adj_name = "pems_adj_mat.npy"
    values_name = "pems_node_values.npy"
    url = URL
    dcrnn_names = ("adj_mx_bay.pkl", "pems-bay.h5")
    signal_target = None  # upstream get_dataset: y = X[:, :, i+T_in:j]
