"""The error a diverged run stops with (no torch import: the command lines' `user_errors` names it).

`TrainConfig.max_nonfinite_steps` non-finite gradient norms in a row end the run: a documented stop,
whose message names the last checkpoint and what to change, printed as one line with exit code 2 by
`lumina train` and `python -m training.train`, not as a traceback. Any other FloatingPointError is
still a bug's traceback.
"""

from __future__ import annotations


class TrainingDiverged(FloatingPointError):
    """Too many non-finite steps in a row: the run has diverged, or its data or weights are broken."""
