"""Whether numba still has to compile roomgate's kernels, found without importing numba.

The kernels (the gate, the convolver, the mixer, the demo voice) are compiled by numba on first use
and cached on disk (``cache=True``), so a first run spends some seconds compiling that later runs do
not. A face that knows this is about to happen can say so (:func:`compile_notice`) instead of
looking hung.

numba keeps a cache index (``<module>.<function>-<line>.py311.nbi``) per compiled function, in the
first of these folders that applies (numba.core.caching's locators, in numba's order):
``$NUMBA_CACHE_DIR/<folder>_<sha1 of the folder>``, ``__pycache__`` beside the source when it is
writable, else the user's cache folder ``numba/<folder>_<sha1>``. A module counts as compiled when
its folder holds an index newer than its source (numba drops an index whose source changed).
"""

from __future__ import annotations

import hashlib
import os
import sys
from importlib.util import find_spec
from pathlib import Path

__all__ = ["DEMO_KERNELS", "KERNEL_MODULES", "LIVE_KERNELS", "compile_notice", "uncompiled_modules"]

#: The modules with numba kernels, and roughly how long numba takes to compile each one's kernels
#: the first time, in CPU seconds on a 2-core machine (measured cold: a file render, gate, mixer and
#: partitioned convolver, 23 s against 1.5 s warm; the demo, gate, mixer and voice, 23.6 s against
#: 4.2 s).
KERNEL_MODULES: dict[str, float] = {
    "roomgate.dsp.gate": 14.0,
    "roomgate.dsp.mixer": 4.0,
    "roomgate.dsp.convolve": 5.0,
    "roomgate.synth.voice": 3.0,
}
#: The kernels the live path compiles (``roomgate live``: the partitioned convolver, the gate and
#: the mixer). A file render compiles none: its long blocks run the numpy gate and mixer
#: (:mod:`roomgate.dsp.gate_vector`, :func:`roomgate.dsp.mixer.mix_block_numpy`).
LIVE_KERNELS = ("roomgate.dsp.gate", "roomgate.dsp.mixer", "roomgate.dsp.convolve")
#: The kernels the demo compiles: the synthetic voice's.
DEMO_KERNELS = ("roomgate.synth.voice",)


def uncompiled_modules(modules: tuple[str, ...] | list[str] = tuple(KERNEL_MODULES)) -> list[str]:
    """The kernel modules among ``modules`` that numba has not cached yet (compiled on next use)."""
    missing = []
    for module in modules:
        spec = find_spec(module)
        if spec is None or spec.origin is None:
            continue
        if not _cached(Path(spec.origin)):
            missing.append(module)
    return missing


def compile_notice(modules: tuple[str, ...] | list[str] = LIVE_KERNELS) -> str | None:
    """``"compiling the DSP kernels (once, about N s)"`` when some of ``modules`` are not compiled
    yet; None when numba's cache has them all (or numba's JIT is disabled)."""
    if os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"):
        return None
    missing = uncompiled_modules(modules)
    if not missing:
        return None
    seconds = sum(KERNEL_MODULES.get(m, 5.0) for m in missing)
    return f"compiling the DSP kernels (once, about {5 * max(1, round(seconds / 5))} s)"


def _cached(source: Path) -> bool:
    try:
        source_mtime = source.stat().st_mtime
    except OSError:
        return True  # no source to compile from (a zipped install): nothing to say
    for folder in _cache_folders(source):
        try:
            indexes = list(folder.glob(f"{source.stem}.*.nbi"))
        except OSError:
            continue
        if any(index.stat().st_mtime >= source_mtime for index in indexes):
            return True
    return False


def _cache_folders(source: Path) -> list[Path]:
    """Where numba would keep ``source``'s cache: the folder it writes to first, in its order."""
    folder = source.resolve().parent
    hashed = f"{folder.name}_{hashlib.sha1(str(folder).encode()).hexdigest()}"
    configured = os.environ.get("NUMBA_CACHE_DIR")
    if configured:
        return [Path(configured) / hashed]
    in_tree = folder / "__pycache__"
    user_wide = _user_cache_root() / "numba" / hashed
    return [in_tree, user_wide]


def _user_cache_root() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home()))
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
