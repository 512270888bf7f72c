"""The rig: impulse responses, gates and the mix as one system.

- :mod:`.rig`: :class:`Rig` (``process``, ``render``, ``calibrate``) and :func:`load_preset`;
- :mod:`.engine`: the streaming engine both the offline and the live paths run;
- :mod:`.gates`: a preset's gate made into a DSP gate;
- :mod:`.calibration`: relative settings fitted on a take, and calibration files;
- :mod:`.job`: the file render job every face uses (two streaming passes, atomic outputs).
"""

from __future__ import annotations

from .calibration import Calibration
from .rig import Render, Rig, load_preset

__all__ = ["Calibration", "Render", "Rig", "load_preset"]
