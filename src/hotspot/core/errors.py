"""The one exception hierarchy.

Library code raises these; only the command line catches them, prints one line and
exits 2. Any other exception is a bug and is allowed to surface with its traceback.
"""


class HotspotError(Exception):
    """Base of every error a user can fix: the message says what is wrong and what to do."""


class DataError(HotspotError):
    """An input file or store is missing, unreadable or has the wrong shape."""


class GridError(HotspotError):
    """A study area or grid cannot be built, or two grids do not match."""


class ConfigError(HotspotError):
    """An option or configuration value is invalid."""


class LeakageError(HotspotError):
    """Data from at or after a forecast origin reached a fit."""


class NotFittedError(HotspotError):
    """A model was asked to predict before it was fitted."""
