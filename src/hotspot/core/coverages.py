"""The area coverages at which rankings are scored, shared by the settings (which must stay
light to import: ``hotspot --help`` reads them) and the metrics."""

#: Area coverages at which hit rate, PAI and PEI are reported.
DEFAULT_COVERAGES = (0.01, 0.02, 0.05, 0.10, 0.20)
