r"""METR-LA: speeds of 207 Los Angeles loop detectors, March-June 2012."""
from torch_geometric_temporal.dataset._traffic import NpyZipTrafficLoader

URL = "https://anl.app.box.com/shared/static/plgsv3te0akmqluiuqva34su60nn93c2"


class METRLADatasetLoader(NpyZipTrafficLoader):
    r"""A traffic forecasting dataset based on Los Angeles Metropolitan
    traffic conditions: 207 loop detectors on highways in Los Angeles County,
    5-minute aggregates, March to June 2012 (34,272 steps). For details see
    `"Diffusion Convolutional Recurrent Neural Network: Data-Driven Traffic
    Forecasting" <https://arxiv.org/abs/1707.01926>`_.

    Files (upstream layout): ``METR-LA.zip`` holding ``adj_mat.npy``
    ``(207, 207)`` and ``node_values.npy`` ``(34272, 207, 2)`` (feature 0 the
    speed, 1 the time of day). The zip in :obj:`raw_data_dir` is extracted
    (next to it, or into ``$XDG_CACHE_HOME/torch_geometric_temporal/derived``
    when the folder is read-only) and extracted again whenever its content
    changes; without the zip, DCRNN's ``adj_mx.pkl`` + ``metr-la.h5`` are
    converted to the two arrays (restricted unpickler, HDF5 read without
    unpickling, time of day from the index); without either, the two arrays
    themselves are used; the zip is downloaded from :data:`URL` only when
    none is present and downloads are allowed.
    :func:`torch_geometric_temporal.dataset.synthetic.los_loop_to_metr_la`
    writes these files from the 7-day ``los_speed.csv`` and the real graph.

    Args:
        raw_data_dir (str or Path, optional): folder of the files; default
            ``$PGT_DATA_DIR/metr_la`` (when set), ``./data`` or
            ``~/.cache/torch_geometric_temporal/metr_la``.
        index (bool): accepted for upstream compatibility.
        download (bool, optional): allow downloading a missing zip (default:
            unless ``PGT_OFFLINE`` is set).
        num_nodes (int, optional): expected sensor count (``207`` for the
            real data); default any, for synthetic files.
        validate (bool): reject NaN/inf speeds and NaN-only sensors.
    """

    name = "metr_la"
    zip_name = "METR-LA.zip"
    adj_name = "adj_mat.npy"
    values_name = "node_values.npy"
    url = URL
    dcrnn_names = ("adj_mx.pkl", "metr-la.h5")
