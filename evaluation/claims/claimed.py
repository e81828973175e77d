"""The claimed change, as the user writes it (``-12%``), turned into a rate ratio."""

from __future__ import annotations

import re

from hotspot.core.errors import ConfigError

_CLAIMED = re.compile(r"^\s*([+\-\u2212]?)\s*(\d+(?:\.\d+)?)\s*%?\s*$")


def parse_claimed(text: str | float | None) -> float | None:
    """``"-12%"`` → 0.88 (the claimed rate ratio); ``None`` stays ``None``.

    Raises
    ------
    ConfigError
        Not a percentage, a change of -100 % or less (or 1000 % or more), or no change.
    """
    if text is None:
        return None
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = _CLAIMED.match(str(text))
        if not match:
            raise ConfigError(f"--claimed {text!r} is not a percentage change: write e.g. -12% "
                              "for a 12 % drop")
        sign = -1.0 if match.group(1) in ("-", "\u2212") else 1.0
        value = sign * float(match.group(2))
    if not -100 < value < 1000:
        raise ConfigError(f"--claimed {text!r} must be a change above -100%: e.g. -12%")
    if value == 0:
        raise ConfigError(f"--claimed {text!r} claims no change: write e.g. -12% for a drop")
    return 1 + value / 100
