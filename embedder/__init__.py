"""Lookalike embedding sidecar: images -> InceptionV3 pool_3 vectors -> PCA -> Solr."""

__version__ = "0.1.0"
