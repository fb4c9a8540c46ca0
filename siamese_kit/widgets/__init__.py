"""Interactive tools for a trained twin in a notebook: the pair explorer and draw-and-match.

`PairExplorer(model, imageset)` compares two images, slides the threshold and ranks candidates
(`explorer.py`); `DrawAndMatch(model, run)` puts a `DrawingPad` beside a one-shot run's candidates and
ranks them after every stroke (`drawing.py`). `_common.py` holds what both use: `figure_png`,
`image_png` and `score_pairs`.

Widgets need a live kernel: a notebook rendered to HTML, or read on GitHub, shows them blank. So each
tool here also has `snapshot()`, a static matplotlib Figure of what it shows now, to leave beside it:

    explorer.snapshot()     # as a cell's last expression: a picture that survives the page
"""

from __future__ import annotations

from ._common import display_widget, figure_png, image_png, score_pairs
from .drawing import (
    CLEAR_CLASS,
    DRAW_AND_MATCH_CLASS,
    DRAW_PROMPT,
    MATCHES_CLASS,
    PAD_CLASS,
    DrawAndMatch,
    DrawingPad,
    _is_number,
    _mosaic,
)
from .explorer import ACCURACY_CLASS, DECISION_CLASS, EXPLORER_CLASS, THRESHOLD_CLASS, PairExplorer
