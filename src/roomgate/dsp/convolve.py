"""Convolution of one dry signal with the room impulse responses of several microphones.

Two engines that give the same numbers (to float32 rounding):

- :func:`convolve_offline` renders a whole signal at once: overlap-save with large FFT frames, ONE
  forward FFT of the signal per frame shared by all M impulse responses, the IR spectra cached
  between calls (so re-rendering with the same room skips them), float32 FFTs (numpy's pocketfft)
  on ``workers`` threads.
- :class:`Convolver` streams it with zero latency: the output for input sample ``n`` already
  contains ``h[0] * x[n]``. The head of each IR is a direct FIR (numba); the rest is a non-uniform
  partitioned convolution whose large tail partitions spread their FFT work over the blocks before
  their deadline, so every block costs about the same. Any sequence of block sizes gives the
  one-call result.

Partition scheme of :class:`Convolver` (defaults ``head_size=128``, ``max_partition=2048``;
sizes grow 4x per level up to the cap; see :func:`plan_partitions`), for a 1.8 s IR at 48 kHz::

    taps [0, 128)            direct FIR, sample by sample                        (no latency)
    taps [128, 1024)         7 partitions of 128,  FFT 256:  all work when its block completes
    taps [1024, 4096)        6 partitions of 512,  FFT 1024: work spread over 4 base blocks
    taps [4096, 88064)       41 partitions of 2048, FFT 4096: work spread over 16 base blocks

The direct FIR covers the first ``head_size`` taps, so the first FFT level may deliver one base
block late; each further level of block size ``Bk`` starts at tap ``2 Bk``, so its newest input
block is complete ``Bk`` samples before its first output is due: in that slack its forward FFT,
its inverse FFTs (one per IR) and its multiply-accumulates run as separate units, one or a few
per base block, placed by a greedy scheduler that evens out the load (Gardner 1995; Garcia 2002).
Everything a block needs is one compiled numba call that releases the GIL: the FFTs are a
radix-2 Stockham FFT in split real/imaginary float32 (as fast here as numpy's pocketfft at these
sizes, without its ~5 us per-call overhead).

Arrays are ``(channels, samples)`` float32 as everywhere in roomgate; sample counts in samples.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..errors import AudioInputError

__all__ = [
    "BlockConvolver",
    "Convolver",
    "Partition",
    "clear_ir_spectrum_cache",
    "convolve_offline",
    "ir_spectrum_cache_info",
    "plan_partitions",
]


# ----------------------------------------------------------------------------------------------
# validation at the door
# ----------------------------------------------------------------------------------------------


def _as_irs(irs: object) -> np.ndarray:
    """Impulse responses as a C-contiguous float32 ``(M, L)`` array, or an AudioInputError."""
    a = np.asarray(irs)
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise AudioInputError(
            f"impulse responses must be shaped (mics, taps) with at least one of each, "
            f"got shape {a.shape!r}"
        )
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise AudioInputError(f"impulse responses must be real numbers, got dtype {a.dtype}")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.all(np.isfinite(a)):
        raise AudioInputError("impulse responses contain NaN or infinity")
    return a


def _check_signal(x: object, n_irs: int, what: str = "signal") -> np.ndarray:
    """``(1, N)`` or ``(n_irs, N)`` real array (not yet converted), or an AudioInputError."""
    a = np.asarray(x)
    if a.ndim != 2:
        raise AudioInputError(
            f"{what} must be shaped (channels, samples): (1, N) for one input or ({n_irs}, N) "
            f"for one input per impulse response; got shape {a.shape!r}"
        )
    if a.shape[0] not in (1, n_irs):
        raise AudioInputError(
            f"{what} has {a.shape[0]} channels; expected 1 (one input for all {n_irs} impulse "
            f"responses) or {n_irs} (one per impulse response); got shape {a.shape!r}"
        )
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise AudioInputError(f"{what} must be real numbers, got dtype {a.dtype}")
    return a


# ----------------------------------------------------------------------------------------------
# offline: overlap-save with shared forward FFTs and cached IR spectra
# ----------------------------------------------------------------------------------------------


class _SpectrumCache:
    """LRU cache of IR spectra keyed by (content digest, shape, FFT size); bounded in bytes."""

    def __init__(self, max_bytes: int = 256 * 2**20, max_entries: int = 16) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._d: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, irs: np.ndarray, fft_size: int, workers: int) -> np.ndarray:
        # A content digest, not id(): an IR array edited in place, or a new array at a recycled
        # address, must not pick up stale spectra. blake2b of 1 MB of taps costs ~1 ms.
        digest = hashlib.blake2b(np.ascontiguousarray(irs).view(np.uint8).data, digest_size=16).hexdigest()
        key = (digest, irs.shape, fft_size)
        with self._lock:
            spec = self._d.get(key)
            if spec is not None:
                self._d.move_to_end(key)
                self.hits += 1
                return spec
            self.misses += 1
        # float64 transform, stored complex64: the IR side costs nothing per render once cached.
        # Scaled by the FFT size: the signal's transform is taken with norm="forward" (see below).
        spec = (np.fft.rfft(irs.astype(np.float64), n=fft_size, axis=-1) * fft_size).astype(np.complex64)
        spec.flags.writeable = False
        with self._lock:
            self._d[key] = spec
            while self._d and (
                len(self._d) > self.max_entries
                or sum(v.nbytes for v in self._d.values()) > self.max_bytes
            ):
                if len(self._d) == 1:
                    break  # keep the one just computed even if it is over budget
                self._d.popitem(last=False)
        return spec

    def info(self) -> dict:
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "entries": len(self._d),
                "bytes": sum(v.nbytes for v in self._d.values()),
                "max_bytes": self.max_bytes,
            }

    def clear(self) -> None:
        with self._lock:
            self._d.clear()
            self.hits = 0
            self.misses = 0


_SPECTRA = _SpectrumCache()


def ir_spectrum_cache_info() -> dict:
    """Counters of the offline IR-spectrum cache: ``hits``, ``misses``, ``entries``, ``bytes``."""
    return _SPECTRA.info()


def clear_ir_spectrum_cache() -> None:
    """Empty the offline IR-spectrum cache and zero its counters."""
    _SPECTRA.clear()


def _fast_sizes(lo: int, hi: int) -> list[int]:
    """FFT sizes 2^a * 3^b * 5^c (b, c <= 1) in [lo, hi]: pocketfft's fastest real lengths."""
    out = set()
    for mult in (1, 3, 5, 15):
        k = 1
        while k * mult <= hi:
            if k * mult >= lo:
                out.add(k * mult)
            k *= 2
    return sorted(out)


#: Relative cost per point of numpy's real FFT by the odd factor of its length (2^a times 1, 3, 5
#: or 15), measured with one forward and three inverse transforms per frame from 2^17 to 2^20
#: points on this project's 2-core machine: 5 * 2^a ran 1.49 ns/point/log2 (fastest), 15 * 2^a
#: 1.51-1.64, 2^a 1.59-1.73, 3 * 2^a 1.66-1.88 (power-of-two strides share cache sets).
_RADIX_COST = {1: 1.08, 3: 1.2, 5: 1.0, 15: 1.05}


def _choose_fft_size(n: int, taps: int, n_in: int, n_out: int) -> int:
    """Overlap-save frame size in samples for a signal of ``n`` samples and IRs of ``taps``.

    Cost model: frames * (forward + inverse FFTs) * F log2 F, times the per-point cost of F's
    odd factor (:data:`_RADIX_COST`) and a penalty for frames past 2^20 points, which fall out of
    cache (2^21 ran twice as slow per point). For 60 s against 2.1 s IRs and three mics this picks
    5 * 2^17 (0.14 s of FFTs; 3 * 2^17, the old choice, 0.16 s); a signal shorter than about 20 s
    gets one frame of the whole output length.
    """
    total = n + taps - 1
    lo = max(2 * taps, 1024)  # tiny frames: per-frame overhead dominates
    hi = max(lo, min(2**20, 16 * taps, max(2**16, 2 * total)))
    best = (math.inf, lo)
    for f in _fast_sizes(lo, hi) + _fast_sizes(total + taps - 1, 2 * (total + taps))[:1]:
        step = f - taps + 1
        frames = -(-total // step)
        log_f = math.log2(f)
        odd = f >> ((f & -f).bit_length() - 1)  # f without its factors of two
        cost = frames * (n_in + n_out) * f * log_f * _RADIX_COST.get(odd, 1.2) * (1.0 + 0.5 * max(0.0, log_f - 20))
        if cost < best[0]:
            best = (cost, f)
    return best[1]


def convolve_offline(
    signal: np.ndarray,
    irs: np.ndarray,
    *,
    workers: int | None = None,
    fft_size: int | None = None,
) -> np.ndarray:
    """Full linear convolution of one signal with each of M impulse responses.

    Overlap-save in float32 (complex64 spectra): the signal's frames are transformed once and
    shared by all M IRs; the IR spectra come from a cache keyed by the IRs' content and the FFT
    size, so a second render with the same room skips them (see :func:`ir_spectrum_cache_info`).
    Agrees with :class:`Convolver` fed the same signal and then :meth:`Convolver.tail`, to float32
    rounding (relative error ~1e-6 of the output peak).

    Args:
        signal: the dry input, float (converted to float32).
        irs: impulse responses, one row per microphone.
        workers: threads sharing the frames; None = all CPU cores.
        fft_size: overlap-save frame length in samples (must exceed ``L - 1``); None = chosen
            from the signal and IR lengths.

    Shape:
        - signal: ``(1, N)`` (one input for all IRs) or ``(M, N)`` (input m with IR m)
        - irs: ``(M, L)``
        - returns: ``(M, N + L - 1)`` float32

    Raises:
        AudioInputError: (also a ValueError) for a wrong shape or dtype, shown in the message.
    """
    h = _as_irs(irs)
    x = _check_signal(signal, h.shape[0])
    x = np.ascontiguousarray(x, dtype=np.float32)
    n_ir, taps = h.shape
    n_in, n = x.shape
    total = n + taps - 1
    if workers is None:
        workers = os.cpu_count() or 1
    if n == 0:
        return np.zeros((n_ir, total), np.float32)
    if fft_size is None:
        fft_size = _choose_fft_size(n, taps, n_in, n_ir)
    elif fft_size < taps:
        raise AudioInputError(f"fft_size must be at least the IR length {taps}, got {fft_size}")
    f = int(fft_size)
    step = f - taps + 1  # valid output samples per frame
    n_frames = -(-total // step)
    spec = _SPECTRA.get(h, f, workers)  # (M, F/2 + 1) complex64

    out = np.empty((n_ir, total), np.float32)
    # numpy's FFT (pocketfft; float32 in, float32 out since numpy 2.0): scipy.fft computes the same
    # about as fast but costs ~0.3 s and ~27 MB to import. One frame at a time per thread (numpy's
    # real FFT needs about 5x its output in scratch: batches of frames cost memory for little
    # speed); frames go to ``workers`` threads (numpy releases the GIL in its FFTs).
    # Frame j reads the input at [j * step - (taps - 1), j * step - (taps - 1) + F), zeros outside.
    local = threading.local()

    def one_frame(j: int) -> None:
        frame = getattr(local, "frame", None)
        if frame is None:
            frame = local.frame = np.zeros((n_in, f), np.float32)
        a = j * step - (taps - 1)
        lo, hi = max(a, 0), min(a + f, n)
        frame[:, : lo - a] = 0.0
        frame[:, lo - a : hi - a] = x[:, lo:hi]
        frame[:, max(hi - a, lo - a) :] = 0.0
        # norm="forward" (1/F, undone by the IR spectra): numpy 2.x's float32 rfft with the default
        # norm runs about 4x slower (its integer scale factor selects a float64 loop).
        spec_x = np.fft.rfft(frame, axis=-1, norm="forward")  # (Cin, bins) complex64
        s0, s1 = j * step, min(total, (j + 1) * step)
        # one input: its spectrum times every IR's; M inputs: row m times IR m. The M inverse
        # transforms in one call (pocketfft works on several rows at once).
        y = np.fft.irfft(np.multiply(spec_x, spec), n=f, axis=-1)  # (M, F) float32
        out[:, s0:s1] = y[:, taps - 1 : taps - 1 + s1 - s0]

    threads = min(int(workers), n_frames)
    if threads > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads, thread_name_prefix="roomgate-fft") as pool:
            for _ in pool.map(one_frame, range(n_frames)):
                pass
    else:
        for j in range(n_frames):
            one_frame(j)
    return out


# ----------------------------------------------------------------------------------------------
# streaming: partition plan
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    """One level of the non-uniform partition: ``count`` partitions of ``block_size`` taps.

    Covers taps ``[offset, offset + count * block_size)`` of each IR with FFTs of
    ``2 * block_size`` points. Its work runs in events every ``head_size`` samples; ``period``
    of those make one of its blocks (all in samples except ``period``, in base blocks).
    """

    offset: int
    block_size: int
    count: int
    period: int

    @property
    def fft_size(self) -> int:
        return 2 * self.block_size

    @property
    def end(self) -> int:
        return self.offset + self.count * self.block_size


def plan_partitions(
    ir_length: int, head_size: int = 128, max_partition: int = 2048, growth: int = 4
) -> tuple[int, list[Partition]]:
    """The partition scheme for IRs of ``ir_length`` taps: ``(direct_taps, levels)``.

    The first ``head_size`` taps are a direct FIR; level 0 has partitions of ``head_size`` from
    tap ``head_size``; each next level is ``growth`` times larger and starts at twice its own
    block size, so it has one block of slack to spread its FFTs over; the level whose successor
    would exceed ``max_partition`` (or the IR) takes the rest. ``head_size``, ``max_partition``
    must be powers of two with ``max_partition >= head_size``.
    """
    for name, v in (("head_size", head_size), ("max_partition", max_partition)):
        if v < 1 or v & (v - 1):
            raise ValueError(f"{name} must be a power of two, got {v}")
    if max_partition < head_size:
        raise ValueError(f"max_partition ({max_partition}) must be >= head_size ({head_size})")
    if growth < 2 or growth & (growth - 1):
        raise ValueError(f"growth must be a power of two >= 2, got {growth}")
    if ir_length <= head_size:
        return ir_length, []
    levels: list[Partition] = []
    offset, block = head_size, head_size
    while offset < ir_length:
        nxt = min(block * growth, max_partition)
        if nxt == block or 2 * nxt >= ir_length:
            end = ir_length  # this level takes the rest
        else:
            end = 2 * nxt  # the next level starts at twice its block size
        count = -(-(end - offset) // block)
        levels.append(Partition(offset, block, count, block // head_size))
        offset, block = offset + count * block, nxt
    return head_size, levels


# ----------------------------------------------------------------------------------------------
# streaming: numba kernels (compiled on first use, cached on disk)
# ----------------------------------------------------------------------------------------------
# The kernels are plain Python functions here; _kernels() compiles them the first time a
# Convolver is made, so `import roomgate` never imports numba. Compiled callers reach their
# callees through these module globals, which _kernels() fills before compiling the callers.

_stage_nb = _cfft_nb = _rfft_nb = _irfft_add_nb = _mac_nb = None


# Hot loops index through unsigned ints: numba then drops its negative-index (wraparound)
# branch, which otherwise stops LLVM from vectorising them (measured 3-4x on the FIR).
_U = np.uint64

# Columns of the level table (int64, one row per level): block size Bk, partition count P,
# delay D (= offset / Bk), ring slot of the newest input spectrum, then offsets of the level's
# arrays in the flat buffers: input spectra X (P, inputs, Bk + 1), IR spectra H (M, P, Bk + 1)
# and accumulators (M, Bk + 1), each as real and imaginary parts.
_LV_BLOCK, _LV_COUNT, _LV_DELAY, _LV_SLOT = 0, 1, 2, 3
_LV_XRE, _LV_XIM, _LV_HRE, _LV_HIM, _LV_ARE, _LV_AIM = 4, 5, 6, 7, 8, 9
# Entries of the state vector (int64).
_ST_T, _ST_FILL, _ST_EVENTS, _ST_NIN, _ST_RING, _ST_HEAD, _ST_HYPER, _ST_NT, _ST_CIN = range(9)
# Columns of a scheduled work unit, and its kinds.
_OP_KIND, _OP_LEVEL, _OP_PHASE, _OP_A, _OP_B, _OP_C = range(6)
_OP_FFT, _OP_OUT, _OP_OLD = 0, 1, 2


def _stage_py(l, s, st, xr, xi, yr, yi, twr, twi):  # pragma: no cover - runs compiled
    """One radix-2 Stockham decimation-in-frequency stage, x -> y (split re/im, float32).

    Sub-transforms of length l at stride s (l * s = n); twiddle W_l^p = tw[p * st]. Stockham
    ordering needs no bit reversal: after the last stage the result is in natural order.
    """
    h = l // 2
    if s >= 4:  # inner loop over q is contiguous: vectorised
        for p in range(h):
            wr = twr[_U(p * st)]
            wi = twi[_U(p * st)]
            i0 = s * p
            i1 = i0 + s * h
            o0 = 2 * s * p
            o1 = o0 + s
            for q in range(s):
                ar = xr[_U(i0 + q)]
                ai = xi[_U(i0 + q)]
                br = xr[_U(i1 + q)]
                bi = xi[_U(i1 + q)]
                yr[_U(o0 + q)] = ar + br
                yi[_U(o0 + q)] = ai + bi
                dr = ar - br
                di = ai - bi
                yr[_U(o1 + q)] = dr * wr - di * wi
                yi[_U(o1 + q)] = dr * wi + di * wr
    else:  # first stages: few q, long loop over p
        for q in range(s):
            for p in range(h):
                wr = twr[_U(p * st)]
                wi = twi[_U(p * st)]
                i0 = s * p + q
                i1 = i0 + s * h
                o0 = 2 * s * p + q
                o1 = o0 + s
                ar = xr[_U(i0)]
                ai = xi[_U(i0)]
                br = xr[_U(i1)]
                bi = xi[_U(i1)]
                yr[_U(o0)] = ar + br
                yi[_U(o0)] = ai + bi
                dr = ar - br
                di = ai - bi
                yr[_U(o1)] = dr * wr - di * wi
                yi[_U(o1)] = dr * wi + di * wr


def _cfft_py(n, work, twr, twi, tstride):  # pragma: no cover - runs compiled
    """Forward complex DFT of work[0] + i work[1] (first n entries, n a power of 2), in place.

    work rows 2 and 3 are scratch; the twiddle W_n^j is tw[j * tstride].
    """
    l = n
    s = 1
    src = 0
    while l > 1:
        dst = 2 - src
        _stage_nb(l, s, tstride * s, work[src], work[src + 1], work[dst], work[dst + 1], twr, twi)
        src = dst
        l //= 2
        s *= 2
    if src != 0:
        for i in range(n):
            work[0, _U(i)] = work[2, _U(i)]
            work[1, _U(i)] = work[3, _U(i)]


def _rfft_py(src, a, nreal, work, twr, twi, nt, dst, off_re, off_im):  # pragma: no cover
    """Real DFT of src[a : a + nreal] into dst[off_re + k], dst[off_im + k], k <= nreal/2.

    The classic half-length trick: even samples as real part, odd as imaginary, one complex
    FFT of nreal/2 points, then split with W_nreal^k = tw[k * nt / nreal] (nt = table size).
    """
    nc = nreal // 2
    ts = nt // nreal
    half = np.float32(0.5)
    zr = work[0]
    zi = work[1]
    for j in range(nc):
        zr[_U(j)] = src[_U(a + 2 * j)]
        zi[_U(j)] = src[_U(a + 2 * j + 1)]
    _cfft_nb(nc, work, twr, twi, 2 * ts)
    # bins 0 and nc: Z[0] pairs with itself
    dst[_U(off_re)] = zr[0] + zi[0]
    dst[_U(off_im)] = 0.0
    dst[_U(off_re + nc)] = zr[0] - zi[0]
    dst[_U(off_im + nc)] = 0.0
    for k in range(1, nc):
        ar = zr[_U(k)]
        ai = zi[_U(k)]
        br = zr[_U(nc - k)]
        bi = -zi[_U(nc - k)]
        er = half * (ar + br)  # spectrum of the even samples
        ei = half * (ai + bi)
        orr = half * (ai - bi)  # spectrum of the odd samples: -i (A - B) / 2
        oi = half * (br - ar)
        wr = twr[_U(k * ts)]
        wi = twi[_U(k * ts)]
        dst[_U(off_re + k)] = er + orr * wr - oi * wi
        dst[_U(off_im + k)] = ei + orr * wi + oi * wr


def _irfft_add_py(spec, off_re, off_im, nreal, work, twr, twi, nt, dst, pos):  # pragma: no cover
    """dst[pos + i] += irfft(spectrum)[nreal/2 + i] for i < nreal/2 (overlap-save's valid half).

    The spectrum (nreal/2 + 1 bins) is at spec[off_re + k], spec[off_im + k]. Inverse of the
    half-length trick; the inverse complex FFT is a forward one on the conjugate.
    """
    nc = nreal // 2
    ts = nt // nreal
    zr = work[0]
    zi = work[1]
    for k in range(nc):
        xr = spec[_U(off_re + k)]
        xi = spec[_U(off_im + k)]
        yr = spec[_U(off_re + nc - k)]
        yi = -spec[_U(off_im + nc - k)]
        er = xr + yr
        ei = xi + yi
        dr = xr - yr
        di = xi - yi
        wr = twr[_U(k * ts)]
        wi = -twi[_U(k * ts)]
        orr = dr * wr - di * wi
        oi = dr * wi + di * wr
        zr[_U(k)] = er - oi  # conj(E + i O): the inverse FFT as a forward one
        zi[_U(k)] = -(ei + orr)
    _cfft_nb(nc, work, twr, twi, 2 * ts)
    g = np.float32(1.0 / nreal)  # 1/nc of the inverse FFT and the 1/2 of E, O, together
    h = nc // 2
    for j in range(h):
        dst[_U(pos + 2 * j)] += g * zr[_U(h + j)]
        dst[_U(pos + 2 * j + 1)] -= g * zi[_U(h + j)]


def _mac_py(xspec, hspec, accs, lv, base, p0, p1, m0, m1, n_in, cin_max):  # pragma: no cover
    """acc[m] += sum_{p0 <= p < p1} X[(base - p) mod P, input of m] * H[m, p], m0 <= m < m1.

    lv is the level's row of the level table (offsets into the flat spectrum buffers).
    """
    bins = lv[_LV_BLOCK] + 1
    cnt = lv[_LV_COUNT]
    for m in range(m0, m1):
        c = 0 if n_in == 1 else m
        ar0 = lv[_LV_ARE] + m * bins
        ai0 = lv[_LV_AIM] + m * bins
        for p in range(p0, p1):
            sl = (base - p) % cnt
            xr0 = lv[_LV_XRE] + (sl * cin_max + c) * bins
            xi0 = lv[_LV_XIM] + (sl * cin_max + c) * bins
            hr0 = lv[_LV_HRE] + (m * cnt + p) * bins
            hi0 = lv[_LV_HIM] + (m * cnt + p) * bins
            for b in range(bins):
                xr = xspec[_U(xr0 + b)]
                xi = xspec[_U(xi0 + b)]
                hr = hspec[_U(hr0 + b)]
                hi = hspec[_U(hi0 + b)]
                accs[_U(ar0 + b)] += xr * hr - xi * hi
                accs[_U(ai0 + b)] += xr * hi + xi * hr


def _stream_py(x, n, out, st, hist, fut, taps_rev, xspec, hspec, accs, work, tw, lv, plan_ptr,
               plan_ops):  # pragma: no cover - runs compiled
    """Process x[:, :n] into out[:, :n]: the whole streaming convolution of one block.

    Per chunk (never crossing a base block of `head` samples): store the input in the history
    ring, write the direct-FIR head plus the tail contributions waiting in `fut`. Each time a
    base block completes, run the work units scheduled for that event (plan_ptr/plan_ops):
    forward FFTs into the levels' spectrum rings, multiply-accumulates, inverse FFTs whose valid
    halves are added into `fut` before their samples are due.
    """
    t = st[_ST_T]  # ring position of the next input sample
    fill = st[_ST_FILL]  # samples already in the current base block
    events = st[_ST_EVENTS]  # base blocks completed, modulo the hyper-period
    n_in = st[_ST_NIN]
    ring = st[_ST_RING]
    head = st[_ST_HEAD]
    hyper = st[_ST_HYPER]
    nt = st[_ST_NT]
    cin_max = st[_ST_CIN]
    n_ir, taps = taps_rev.shape
    twr = tw[0]
    twi = tw[1]
    i = 0
    while i < n:
        k = min(n - i, head - fill)
        for c in range(n_in):  # each sample twice, so any window of <= ring is contiguous
            xc = x[c]
            hc = hist[c]
            for j in range(k):
                v = xc[_U(i + j)]
                hc[_U(t + j)] = v
                hc[_U(t + j + ring)] = v
        for m in range(n_ir):
            o = out[m]
            f = fut[m]
            h = taps_rev[m]
            xs = hist[0 if n_in == 1 else m]
            for j in range(k):  # tail first (already summed), then consume it
                o[_U(i + j)] = f[_U(t + j)]
                f[_U(t + j)] = 0.0
            b = ring + t - taps + 1
            for kk in range(taps):  # outputs in the inner loop: vectorised, no reduction
                hk = h[kk]
                for j in range(k):
                    o[_U(i + j)] += hk * xs[_U(b + kk + j)]
        i += k
        fill += k
        t = (t + k) % ring
        if fill < head:
            continue
        fill = 0
        events = (events + 1) % hyper
        for op in range(plan_ptr[events], plan_ptr[events + 1]):
            unit = plan_ops[op]
            row = lv[unit[_OP_LEVEL]]
            bk = row[_LV_BLOCK]
            # the level's newest complete block ended `phase` base blocks ago
            done = (t - unit[_OP_PHASE] * head) % ring
            if unit[_OP_KIND] == _OP_FFT:  # spectrum of [done - 2 bk, done), each input
                slot = (row[_LV_SLOT] + 1) % row[_LV_COUNT]
                row[_LV_SLOT] = slot
                for c in range(n_in):
                    off = (slot * cin_max + c) * (bk + 1)
                    _rfft_nb(hist[c], ring + done - 2 * bk, 2 * bk, work, twr, twi, nt, xspec,
                             row[_LV_XRE] + off, row[_LV_XIM] + off)
            elif unit[_OP_KIND] == _OP_OUT:  # newest partitions [0, C) for IRs [A, B)
                m0 = unit[_OP_A]
                m1 = unit[_OP_B]
                _mac_nb(xspec, hspec, accs, row, row[_LV_SLOT], 0, unit[_OP_C], m0, m1, n_in,
                        cin_max)
                # output block q of the level starts (D - 1) blocks after input block q ended
                pos = (done + (row[_LV_DELAY] - 1) * bk) % ring
                for m in range(m0, m1):
                    a0 = row[_LV_ARE] + m * (bk + 1)
                    a1 = row[_LV_AIM] + m * (bk + 1)
                    _irfft_add_nb(accs, a0, a1, 2 * bk, work, twr, twi, nt, fut[m], pos)
                    for b in range(bk + 1):  # cleared for the next block's older partitions
                        accs[_U(a0 + b)] = 0.0
                        accs[_U(a1 + b)] = 0.0
            else:  # older partitions [A, B) for the NEXT block: their inputs are known now
                _mac_nb(xspec, hspec, accs, row, row[_LV_SLOT] + 1, unit[_OP_A], unit[_OP_B], 0,
                        n_ir, n_in, cin_max)
    st[_ST_T] = t
    st[_ST_FILL] = fill
    st[_ST_EVENTS] = events


_KERNELS: SimpleNamespace | None = None
_KERNELS_LOCK = threading.Lock()


def _kernels() -> SimpleNamespace:
    """Compile (or load from numba's disk cache) the streaming kernels, once per process."""
    global _KERNELS, _stage_nb, _cfft_nb, _rfft_nb, _irfft_add_nb, _mac_nb
    with _KERNELS_LOCK:
        if _KERNELS is None:
            import numba

            # 'reassoc'/'contract' let LLVM vectorise and fuse; no nnan/ninf, so a NaN in the
            # input stays a NaN instead of undefined behaviour. nogil: the live thread holds no GIL.
            # error_model="numpy": no zero-division branches in integer // and %.
            opts: dict[str, Any] = dict(
                cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract", "nsz"}
            )
            _stage_nb = numba.njit(**opts)(_stage_py)
            _cfft_nb = numba.njit(**opts)(_cfft_py)
            _rfft_nb = numba.njit(**opts)(_rfft_py)
            _irfft_add_nb = numba.njit(**opts)(_irfft_add_py)
            _mac_nb = numba.njit(**opts)(_mac_py)
            f2 = "float32[:, ::1]"
            sig = (
                f"void({f2}, int64, {f2}, int64[::1], {f2}, {f2}, {f2}, float32[::1], "
                f"float32[::1], float32[::1], {f2}, {f2}, int64[:, ::1], int64[::1], "
                f"int64[:, ::1])"
            )
            _KERNELS = SimpleNamespace(stream=numba.njit(sig, **opts)(_stream_py))
        return _KERNELS


# ----------------------------------------------------------------------------------------------
# streaming: the convolver
# ----------------------------------------------------------------------------------------------


def _fft_cost_us(nreal: int) -> float:
    """Rough cost in microseconds of one real FFT of nreal points here (for the scheduler)."""
    return 0.5 + 0.0005 * nreal * math.log2(max(nreal, 2))


class Convolver:
    """One input signal (or M inputs) against M impulse responses, streaming, zero latency.

    ``process(block)`` returns the next ``n`` output samples of the full convolution; the output
    for input sample ``n`` contains ``h[0] * x[n]`` (no latency). State (input history, pending
    tail contributions) carries across calls, so any sequence of block sizes gives the one-call
    result to float32 rounding, and ``process(x)`` then :meth:`tail` equals
    :func:`convolve_offline` ``(x, irs)``.

    Real time: all of a block's work is one compiled call that holds no GIL, and
    :meth:`process_into` allocates no arrays: every buffer is made in ``__init__``, where the
    kernels are also compiled and run once. Blocks and outputs that are float32 and
    C-contiguous are used in place; others (e.g. sounddevice's ``indata.T``) are copied through
    preallocated staging buffers. :meth:`process` allocates its return array. The cost per base
    block of ``head_size`` samples is about even: the tail partitions' FFTs are scheduled one
    unit per base block (see :func:`plan_partitions`).

    Args:
        irs: impulse responses, one row per microphone (converted to float32).
        max_block_size: size in samples of the staging buffers (for blocks that are not
            C-contiguous float32); larger such blocks are split. Any block size works.
        head_size: taps done by direct FIR, and the base block of the FFT levels, in samples
            (a power of 2 >= 2).
        max_partition: largest FFT partition in taps (a power of 2): larger means fewer FFTs
            per sample but longer single units of work.
        n_inputs: 1 or M to fix the input mode now; None = set by the first non-empty block
            after construction or :meth:`reset`.

    Shape:
        - irs: ``(M, L)``
        - block: ``(1, n)`` (one input, convolved with each IR) or ``(M, n)`` (input m with IR m)
        - returns: ``(M, n)`` float32

    Raises:
        AudioInputError: (also a ValueError) for a block whose shape does not fit, shown in the
            message; a stream may not change its input mode until :meth:`reset`.
    """

    def __init__(
        self,
        irs: np.ndarray,
        *,
        max_block_size: int = 8192,
        head_size: int = 128,
        max_partition: int = 2048,
        n_inputs: int | None = None,
    ) -> None:
        h = _as_irs(irs)
        if max_block_size < 1:
            raise ValueError(f"max_block_size must be >= 1, got {max_block_size}")
        if head_size < 2:
            raise ValueError(f"head_size must be a power of two >= 2, got {head_size}")
        self.irs = h
        self.n_irs, self.ir_length = h.shape
        if n_inputs not in (None, 1, self.n_irs):
            raise ValueError(f"n_inputs must be None, 1 or {self.n_irs}, got {n_inputs}")
        self.max_block_size = int(max_block_size)
        self.head_size = int(head_size)
        direct, parts = plan_partitions(self.ir_length, self.head_size, max_partition)
        self.direct_taps = direct
        self.partitions: tuple[Partition, ...] = tuple(parts)
        self._fixed_inputs = n_inputs
        self._n_in = n_inputs  # input mode in use; None until the first block
        m, cin = self.n_irs, self.n_irs  # buffers always hold M inputs: the mode may change
        b = self.head_size
        biggest = max([p.block_size for p in parts], default=b)
        # Ring length in samples of the input history and of the pending output: a multiple of
        # every block size (no block wraps) and > 3x the largest (the 2 Bk window a level
        # transforms, plus up to Bk of scheduling delay).
        ring = 4 * biggest
        nt = 2 * biggest  # largest real FFT: the twiddle table serves every size below it
        self._hist = np.zeros((cin, 2 * ring), np.float32)
        self._fut = np.zeros((m, ring), np.float32)
        self._taps_rev = np.ascontiguousarray(h[:, :direct][:, ::-1])
        j = np.arange(nt // 2)
        self._tw = np.ascontiguousarray(
            np.stack([np.cos(2 * np.pi * j / nt), -np.sin(2 * np.pi * j / nt)]).astype(np.float32)
        )
        self._work = np.zeros((4, max(1, biggest)), np.float32)

        # Flat spectrum buffers (split re/im float32) and the table of where each level lives.
        lv = np.zeros((max(1, len(parts)), 10), np.int64)
        x_size = h_size = a_size = 0
        for i, p in enumerate(parts):
            bins = p.block_size + 1
            n_x, n_h, n_a = p.count * cin * bins, m * p.count * bins, m * bins
            lv[i, _LV_BLOCK : _LV_SLOT + 1] = (p.block_size, p.count, p.offset // p.block_size, 0)
            lv[i, _LV_XRE:] = (x_size, x_size + n_x, h_size, h_size + n_h, a_size, a_size + n_a)
            x_size, h_size, a_size = x_size + 2 * n_x, h_size + 2 * n_h, a_size + 2 * n_a
        self._lv = lv
        self._xspec = np.zeros(max(1, x_size), np.float32)
        self._hspec = np.zeros(max(1, h_size), np.float32)
        self._accs = np.zeros(max(1, a_size), np.float32)
        for i, p in enumerate(parts):
            # IR partitions zero-padded to 2 Bk, transformed in float64, stored float32.
            seg = np.zeros((m, p.count * p.block_size), np.float64)
            avail = h[:, p.offset : p.end]
            seg[:, : avail.shape[1]] = avail
            spec = np.fft.rfft(seg.reshape(m, p.count, p.block_size), n=2 * p.block_size, axis=-1)
            n_h = spec.size
            self._hspec[lv[i, _LV_HRE] : lv[i, _LV_HRE] + n_h] = spec.real.ravel()
            self._hspec[lv[i, _LV_HIM] : lv[i, _LV_HIM] + n_h] = spec.imag.ravel()

        self._hyper = max([p.period for p in parts], default=1)
        self._plan_ptr, self._plan_ops, self._load_us = self._schedule()
        self._st = np.array([0, 0, 0, 1, ring, b, self._hyper, nt, cin], np.int64)
        stage = min(self.max_block_size, 1 << 16)
        self._stage_in = np.zeros((cin, stage), np.float32)
        self._stage_out = np.zeros((m, stage), np.float32)
        self._stream = _kernels().stream
        self._warm_up()

    # -- public -------------------------------------------------------------------------------

    @property
    def latency_samples(self) -> int:
        """Added latency in samples: always 0."""
        return 0

    @property
    def n_inputs(self) -> int | None:
        """The input mode in use (1 or M), or None before the first block."""
        return self._n_in

    def reset(self) -> None:
        """Forget all input: the next block starts a new convolution from silence."""
        self._hist[...] = 0
        self._fut[...] = 0
        self._xspec[...] = 0
        self._accs[...] = 0
        self._lv[:, _LV_SLOT] = 0
        self._st[[_ST_T, _ST_FILL, _ST_EVENTS]] = 0
        self._n_in = self._fixed_inputs

    def process(self, block: np.ndarray) -> np.ndarray:
        """Convolve the next block; returns a new ``(M, n)`` float32 array (allocates it).

        Shape:
            - block: ``(1, n)`` or ``(M, n)``, any real dtype, n >= 0
            - returns: ``(M, n)`` float32
        """
        a = _check_signal(block, self.n_irs, "block")
        out = np.empty((self.n_irs, a.shape[1]), np.float32)
        self.process_into(a, out)
        return out

    def process_into(self, block: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Convolve the next block into ``out`` (the live path: allocates no arrays).

        Shape:
            - block: ``(1, n)`` or ``(M, n)``, real; float32 C-contiguous is used in place
            - out: ``(M, n)`` float32, writable; C-contiguous is written in place
            - returns: ``out``
        """
        if not isinstance(block, np.ndarray) or block.ndim != 2 or (
            block.shape[0] != 1 and block.shape[0] != self.n_irs
        ):
            block = _check_signal(block, self.n_irs, "block")  # raises, showing the shape
        c, n = block.shape
        if (
            not isinstance(out, np.ndarray)
            or out.shape != (self.n_irs, n)
            or out.dtype != np.float32
            or not out.flags.writeable
        ):
            raise AudioInputError(
                f"out must be a writable float32 array shaped ({self.n_irs}, {n}); got "
                f"{getattr(out, 'shape', None)!r} {getattr(out, 'dtype', type(out).__name__)}"
            )
        if n == 0:
            return out
        if self._n_in is None:
            self._n_in = c
        elif c != self._n_in:
            how = (
                f"this Convolver was made with n_inputs={self._n_in}"
                if self._fixed_inputs
                else f"this stream was started with {self._n_in}; call reset() to change"
            )
            raise AudioInputError(f"block has {c} channels but {how} (block shape {block.shape!r})")
        self._st[_ST_NIN] = c
        if block.dtype == np.float32 and block.flags.c_contiguous and out.flags.c_contiguous:
            self._call(block, n, out)
            return out
        if block.dtype.kind not in "fiu":
            _check_signal(block, self.n_irs, "block")  # raises for the dtype
        step = self._stage_in.shape[1]
        x_in = self._stage_in[:c]
        for s in range(0, n, step):
            k = min(step, n - s)
            np.copyto(x_in[:, :k], block[:, s : s + k], casting="unsafe")
            self._call(x_in, k, self._stage_out)
            out[:, s : s + k] = self._stage_out[:, :k]
        return out

    def tail(self) -> np.ndarray:
        """Flush: the ``(M, L - 1)`` remaining output if the input ended now.

        Equivalent to (and implemented as) processing ``L - 1`` zeros, so it advances the
        stream; afterwards the convolver holds only silence.
        """
        mode = self._n_in
        y = self.process(np.zeros((mode or 1, self.ir_length - 1), np.float32))
        self._n_in = mode  # silence does not choose the input mode
        return y

    def describe(self) -> str:
        """The partition scheme, one line per level (for reports and benchmarks)."""
        lines = [f"taps [0, {self.direct_taps}): direct FIR, sample by sample"]
        for p in self.partitions:
            lines.append(
                f"taps [{p.offset}, {p.end}): {p.count} x {p.block_size} (FFT {p.fft_size}), "
                f"work spread over {p.period} base block(s) of {self.head_size}"
            )
        return "\n".join(lines)

    # -- internals ----------------------------------------------------------------------------

    def _call(self, x: np.ndarray, n: int, out: np.ndarray) -> None:
        self._stream(x, n, out, self._st, self._hist, self._fut, self._taps_rev, self._xspec,
                     self._hspec, self._accs, self._work, self._tw, self._lv, self._plan_ptr,
                     self._plan_ops)

    def _schedule(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Assign each level's units of work to base-block events, evening out the load.

        A level of period r base blocks runs, in order within each period: its forward FFT; per
        group of IRs the newest partition's MAC, inverse FFT and add into the pending output;
        then the older partitions' MACs for the next block. Greedy, largest levels first: each
        unit goes to the phase (>= the previous unit's) whose busiest repetition over the
        hyper-period is least loaded. Returns (plan_ptr, plan_ops, estimated load per event).
        """
        hyper = self._hyper
        load = np.zeros(hyper)
        slots: list[list[tuple[int, ...]]] = [[] for _ in range(hyper)]
        m = self.n_irs
        order = sorted(range(len(self.partitions)), key=lambda i: -self.partitions[i].block_size)
        for li in order:
            p = self.partitions[li]
            r, n, bins = p.period, p.fft_size, p.block_size + 1
            units: list[tuple[float, tuple[int, ...]]] = [
                (m * _fft_cost_us(n), (_OP_FFT, li, 0, 0, 0))
            ]
            if r == 1:  # level 0: every partition at once, nothing to spread
                units.append((m * (_fft_cost_us(n) + 0.001 * bins * p.count),
                              (_OP_OUT, li, 0, m, p.count)))
            else:
                groups = m if r >= 2 + m else 1
                for g in range(groups):
                    m0, m1 = g * m // groups, (g + 1) * m // groups
                    units.append(((m1 - m0) * _fft_cost_us(n), (_OP_OUT, li, m0, m1, 1)))
                n_old = p.count - 1
                if n_old:
                    chunks = max(1, min(n_old, r - 1 - groups))
                    for ch in range(chunks):
                        p0, p1 = 1 + ch * n_old // chunks, 1 + (ch + 1) * n_old // chunks
                        units.append((0.001 * bins * m * (p1 - p0), (_OP_OLD, li, p0, p1, 0)))
            phase = 0
            for cost, (kind, lvl, a, b, c) in units:
                best_ph, best_v = phase, math.inf
                for ph in range(phase, r):
                    v = load[ph::r].max() + cost
                    if v < best_v - 1e-9:
                        best_ph, best_v = ph, v
                load[best_ph::r] += cost
                for e in range(best_ph, hyper, r):
                    slots[e].append((kind, lvl, best_ph, a, b, c))
                phase = best_ph
        ptr = np.zeros(hyper + 1, np.int64)
        ptr[1:] = np.cumsum([len(s) for s in slots])
        ops = np.array([op for s in slots for op in s] or [(0,) * 6], np.int64).reshape(-1, 6)
        return ptr, np.ascontiguousarray(ops), load

    def _warm_up(self) -> None:
        """Run one hyper-period of silence (every unit once, compiled code loaded), then reset."""
        modes = {1, self.n_irs} if self._fixed_inputs is None else {self._fixed_inputs}
        for c in sorted(modes):
            x = np.zeros((c, self.head_size * self._hyper), np.float32)
            self.process_into(x, np.empty((self.n_irs, x.shape[1]), np.float32))
            self.reset()


class BlockConvolver:
    """Streaming convolution for offline work: long blocks by one FFT each, short ones by the
    partitioned :class:`Convolver`, in any mix, always giving the one-call result.

    A block at least half as long as the IRs is convolved whole by :func:`convolve_offline`
    (then the cheaper per sample); its part that falls after the block is kept and added to the following output.
    The FFT size chosen for the first such block serves the later ones up to twice its length, so a
    stream's last block and its tail add no IR spectra of another size to the cache.
    Shorter blocks go through a zero-latency :class:`Convolver`, made on first need. By linearity
    the output is the same however the input was cut (to float32 rounding), so a long take can be
    rendered from disk block by block as fast as in one piece.

    Shape:
        irs: ``(M, L)``; :meth:`process` takes ``(1, n)`` or ``(M, n)`` and returns ``(M, n)``.
    """

    def __init__(self, irs: np.ndarray, *, workers: int | None = None):
        self.irs = _as_irs(irs)
        self.workers = workers
        self._convolver: Convolver | None = None
        self._convolver_dirty = False  # the Convolver holds input whose output is still to come
        self._fft_size: int | None = None  # for blocks up to 2 * self._fft_block samples
        self._fft_block = 0
        # Output still to come from earlier blocks, starting at the next sample: (M, <= L - 1).
        self._pending = np.zeros((self.irs.shape[0], 0), np.float32)

    @property
    def ir_length(self) -> int:
        return int(self.irs.shape[1])

    def reset(self) -> None:
        self._pending = np.zeros((self.irs.shape[0], 0), np.float32)
        if self._convolver is not None:
            self._convolver.reset()
        self._convolver_dirty = False

    def process(self, block: np.ndarray) -> np.ndarray:
        block = _check_signal(block, self.irs.shape[0], "block")
        n = block.shape[1]
        if 2 * n >= self.ir_length:
            if self._convolver_dirty:  # hand the Convolver's future output over to _pending
                assert self._convolver is not None
                self._add_pending(self._convolver.tail())
                self._convolver.reset()
                self._convolver_dirty = False
            if self._fft_size is None or n > 2 * self._fft_block:
                self._fft_size = _choose_fft_size(n, self.ir_length, block.shape[0], self.irs.shape[0])
                self._fft_block = n
            total = convolve_offline(block, self.irs, workers=self.workers, fft_size=self._fft_size)  # (M, n + L - 1)
            total[:, : self._pending.shape[1]] += self._pending
            self._pending = total[:, n:]
            return total[:, :n]
        if self._convolver is None:
            self._convolver = Convolver(self.irs)
        out = self._convolver.process(block)
        self._convolver_dirty = True
        used = min(n, self._pending.shape[1])
        if used:
            out[:, :used] += self._pending[:, :used]
            self._pending = self._pending[:, used:]
        return out

    def _add_pending(self, future: np.ndarray) -> None:
        length = max(self._pending.shape[1], future.shape[1])
        merged = np.zeros((self.irs.shape[0], length), np.float32)
        merged[:, : self._pending.shape[1]] += self._pending
        merged[:, : future.shape[1]] += future
        self._pending = merged
