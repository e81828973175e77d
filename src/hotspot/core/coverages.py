"""The area coverages and the number of boxes at which rankings are scored, shared by the
settings (which must stay light to import: ``hotspot --help`` reads them) and the metrics."""

#: Area coverages at which hit rate, PAI and PEI are reported. 0.5 % is the smallest: about
#: what a force can patrol in a shift on a city grid.
DEFAULT_COVERAGES = (0.005, 0.01, 0.02, 0.05, 0.10, 0.20)

#: Number of top-ranked cells ("boxes") whose hit rate and PAI are reported: police plan
#: patrols as a list of boxes, not as a share of the area.
DEFAULT_BOXES = 20
