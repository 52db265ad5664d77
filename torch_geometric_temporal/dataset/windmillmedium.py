r"""Windmill output (medium): hourly energy output of 26 windmills."""
from torch_geometric_temporal.dataset.windmillsmall import UpstreamWindmillLoader

FILENAME = "windmill_output_medium.json"
#: Upstream's URL. It no longer answers (upstream 0.56.2's constructor raises
#: ``RuntimeError`` for that reason); a local copy is read instead.
URL = "https://graphmining.ai/temporal_datasets/windmill_output_medium.json"


class WindmillOutputMediumDatasetLoader(UpstreamWindmillLoader):
    r"""Hourly energy output of windmills from a European country for more
    than 2 years. Vertices represent 26 windmills and weighted edges describe
    the strength of their relationships; the target (next hour's output)
    allows for regression tasks.

    The file ``windmill_output_medium.json`` (dataset folder
    ``windmill_medium``) is read as :class:`UpstreamWindmillLoader` says.

    Args:
        raw_data_dir (str or Path, optional): folder holding the file, or its path.
        download (bool, optional): allow downloading a missing file
            (default: unless ``PGT_OFFLINE`` is set).
    """

    filename = FILENAME
    url = URL
    name = "windmill_medium"
