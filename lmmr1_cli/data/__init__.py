"""Datasets: canonical schema, source adapters, images, the prepare pipeline and synthetic generators."""
