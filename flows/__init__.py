"""Prefect flows: thin wrappers that order library steps. No science lives here.

Every flow calls functions from ``ingest``, ``features``, ``models``, ``evaluation`` and
``hotspot.pipeline``; the same functions run and are tested without Prefect.
"""
