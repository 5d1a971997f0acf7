"""Numbers as the reports print them."""
from __future__ import annotations

import math
from typing import Optional


def percent(value: Optional[float], digits: int = 2, missing: str = "-") -> str:
    """``value`` (a fraction) as a percentage with ``digits`` decimals, ``missing`` for None or NaN:
    ``percent(0.4388) == "43.88"``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    return f"{100 * value:.{digits}f}"
