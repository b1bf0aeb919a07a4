"""A bench process's heap made like a served hub's before it measures anything.

`heatshield serve` freezes what it built at start (`api.cli`), so later collections,
those during requests too, skip it. A bench process also holds what a served hub never
does: the demo world it seeded from, often the sandboxes over it. Unfrozen, a full
collection walked all of it (250 to 450 ms) inside whichever measured request it fell
in, the side that allocates more the more often.
"""

from __future__ import annotations

import gc


def freeze() -> None:
    """Collect what setting up left over, then freeze the rest (`gc.freeze`)."""
    gc.collect()
    gc.freeze()
