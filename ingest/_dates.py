"""Reading month and date text the way spreadsheets leave it, without guessing.

police.uk's ``Month`` is ``YYYY-MM``, but a file that went through a spreadsheet comes back
as ``2020-1``, ``01/2020``, ``2020-01-01`` or ``Jan-20``; each of these names one month
unambiguously, so :func:`normalize_months` accepts them. Numeric dates such as
``05/01/2016`` are not unambiguous (5 January or 1 May): :func:`numeric_date_order` tells
from the values whether the day or the month comes first, or says it cannot tell, so the
caller asks the user instead of reading day-first dates month-first.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

_CANONICAL = r"\d{4}-(?:0[1-9]|1[0-2])"
_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
#: ``jan`` .. ``dec``, full names and ``sept`` → month number.
MONTH_NUMBER = {**{n[:3]: i for i, n in enumerate(_NAMES, 1)},
                **{n: i for i, n in enumerate(_NAMES, 1)}, "sept": 9}
#: Year first (``2020-1``, ``2020/01``, ``2020-01-01``, with a midnight time as Excel adds).
_YEAR_FIRST = (r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})(?:[-/.](?P<d>\d{1,2})"
               r"(?:[ T]00:00(?::00(?:\.0+)?)?)?)?$")
#: Month then a four-digit year (``01/2020``, ``1-2020``).
_MONTH_YEAR = r"^(?P<m>\d{1,2})[-/.](?P<y>\d{4})$"
#: A month name then a year (``Jan-20``, ``Jan 2020``, ``January 2020``, ``Sept-2019``).
_NAME_YEAR = r"^(?P<name>[a-z]{3,9})\.?[-/ ]+(?P<y>\d{4}|\d{2})$"


def normalize_months(text: pd.Series) -> pd.Series:
    """``YYYY-MM`` for every value in a form that names one month; ``""`` elsewhere.

    Two-digit years are 20YY (police.uk starts in 2010). Values already ``YYYY-MM`` are
    returned as they are, without further work (the common case).
    """
    canonical = text.str.fullmatch(_CANONICAL).to_numpy(dtype=bool, na_value=False)
    if canonical.all():
        return text
    out = text.where(canonical, "")
    todo = ~canonical & (text != "").to_numpy()
    if not todo.any():
        return out
    rest = text[todo].str.strip().str.lower()
    year = pd.Series(np.nan, index=rest.index)
    month = pd.Series(np.nan, index=rest.index)
    day_ok = pd.Series(True, index=rest.index)
    for pattern in (_YEAR_FIRST, _MONTH_YEAR):
        found = rest.str.extract(pattern)
        hit = found["y"].notna() & year.isna()
        year[hit] = found.loc[hit, "y"].astype(float)
        month[hit] = found.loc[hit, "m"].astype(float)
        if "d" in found:
            day = pd.to_numeric(found.loc[hit, "d"], errors="coerce")
            day_ok[hit] = day.isna() | day.between(1, 31)
    found = rest.str.extract(_NAME_YEAR)
    named = found["name"].map(MONTH_NUMBER)
    hit = named.notna() & year.isna()
    digits = found.loc[hit, "y"]
    year[hit] = digits.astype(float) + np.where(digits.str.len() == 2, 2000, 0)
    month[hit] = named[hit].astype(float)
    good = year.between(1900, 2999) & month.between(1, 12) & day_ok
    labels = (year[good].astype(int).astype(str) + "-"
              + month[good].astype(int).astype(str).str.zfill(2))
    out.loc[labels.index] = labels
    return out.astype("str")


#: Numeric dates whose first two fields could each be the day or the month.
_NUMERIC_DATE = r"^(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?:\d{4}|\d{2})(?:\D|$)"

DateOrder = Literal["dayfirst", "monthfirst", "mixed", "unknown"] | None


def numeric_date_order(text: pd.Series) -> tuple[DateOrder, int | None]:
    """Whether numeric dates (``31/01/2020``) put the day or the month first.

    Returns the order and the position of a row that shows it: ``"dayfirst"`` (a first
    field above 12), ``"monthfirst"`` (a second field above 12), ``"mixed"`` (both occur),
    ``"unknown"`` (every field is 12 or less: no way to tell), or ``None`` when no value is
    such a date (ISO dates, for one, start with the year and need no decision).
    """
    found = text.str.extract(_NUMERIC_DATE)
    found = found[found["a"].notna()]
    if found.empty:
        return None, None
    first = found["a"].astype(int).to_numpy()
    second = found["b"].astype(int).to_numpy()
    positions = found.index.to_numpy()
    day_first, month_first = first > 12, second > 12
    if day_first.any() and month_first.any():
        return "mixed", int(positions[np.argmax(month_first)])
    if day_first.any():
        return "dayfirst", int(positions[np.argmax(day_first)])
    if month_first.any():
        return "monthfirst", int(positions[np.argmax(month_first)])
    return "unknown", int(positions[0])
