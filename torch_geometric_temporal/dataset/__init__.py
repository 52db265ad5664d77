r"""Datasets: loaders in upstream formats and index-batching."""
__all__: list = []
