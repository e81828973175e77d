"""hotspot: place-based crime hotspot forecasting.

The science lives in the sibling packages ``ingest`` → ``features`` → ``models`` →
``evaluation``; this package holds what they share (errors, settings) and the edges
(command line, publishing, the end-to-end pipeline).
"""

__version__ = "0.1.0"
