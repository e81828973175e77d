"""What every layer shares: errors, atomic writes, locks, progress, periods, CRS and study
areas, and the packaged data. It imports nothing else of ``hotspot``."""
