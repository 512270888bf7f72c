"""The hybrid room model: exact early geometry, a diffuse field from the first reflection on, and a
late decay that is statistically diffuse noise.

Per mic and octave band ``b``, the impulse response is the sum of two parts that share one energy
budget, so nothing is spliced:

* **Specular images** -- pyroomacoustics' image source method (Allen & Berkley, JASA 65, 943,
  1979) up to the end of the early part: the direct sound at ``d / c`` and ``1 / d``, each
  reflection from its exact direction with the wall absorption, the air (ISO 9613-1), the mic's
  polar pattern and the singer's directivity along that path (:mod:`.directivity`: a voice beams
  its highs forward). A reflection of order ``k`` keeps only ``(1 - s_b)^k`` of its energy
  specular: ``s_b`` is the surfaces' scattering coefficient (ISO 17497-1), the rest is
  scattered. Images of order >= 2 are nudged by up to ``0.4 (k - 1)`` m (a randomised ISM, De
  Sena et al., IEEE/ACM TASLP 23(1), 2015): no hall is the perfect box whose lattice of
  coincident images booms when singer and mics share a symmetry plane. The images fade out
  (cos^2 in energy) over ``sqrt(V)`` ms from about twice Polack's mixing time (``2 sqrt(V)`` ms).
* **The diffuse field** -- one white Gaussian noise, split into the octave bands, each band
  shaped by an energy envelope with two parts. (1) The scattered sound of the image paths: each
  path's scattered share ``1 - (1 - s_b)^k`` arrives from its own arrival on, spread over a few
  to tens of ms (longer for higher orders), so the diffuse sound starts with the first reflection
  and grows denser as the reflections do. (2) Where the images fade, the statistical
  reverberant field ``(4 pi c / V) G_b exp(-13.8 t / T_b)`` per second: the energy an image
  lattice delivers to a mic for a source of unit energy at 1 m (Kuttruff, *Room Acoustics*, 5th
  ed., 4.3), ``G_b`` the mic's diffuse-field response times the singer's power re on-axis
  (``1 / Q``: her highs go forward, so the hall is darker than the voice in front of her).
  The level is never smoothed: a real tail wanders as diffuse noise does (tail roughness ~ 1,
  :mod:`.measures`); a smoothed one sounds like a plate.
* **The decay** ``T_b`` is the room's (:func:`.room.rt60_bands_s`). One realisation of noise
  decays a few % off the rate it is given (ISO 3382-2's uncertainty of a single decay); each
  band's rate is corrected so that this row's T30, measured as ISO 3382 does, is the asked one
  (:func:`_decay`). The correction tilts the decay line; the wander about it is untouched.

Deterministic: every random draw is seeded, the image nudges by a hash of each image's lattice
position and the room, the noise per mic; a mic's row never depends on the other mics.

Conventions: time zero is the singing; amplitude ``1 / r`` (r in m) for an omni in front of the
singer; a causal 10 Hz high-pass (no DC, and nothing leaks before the direct sound, unlike
pyroomacoustics' zero-phase one); rows run until the slowest band has decayed 80 dB after the
images fade.

References: J.-D. Polack, *Acustica* 67 (1988) for the mixing time; H. Kuttruff, *Room
Acoustics* (2009) for the reverberant field's energy and the mean free path; M. Vorländer,
*Auralization* (2008), ch. 11, and T. J. Cox and P. D'Antonio, *Acoustic Absorbers and
Diffusers* (2nd ed., 2009) for scattering coefficients and hybrid specular/diffuse models.
"""

from __future__ import annotations

import math
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .directivity import diffuse_energy_factor, mic_diffuse_energy, mic_gain, singer_energy_gain
from .room import (
    WALLS,
    Microphone,
    Room,
    Singer,
    air_per_m,
    band_centres_hz,
    eyring_rt60_s,
    mic_axis,
    rt60_bands_s,
    singer_facing,
    wall_absorption,
)

__all__ = ["SCATTERING_BY_BAND", "Timing", "estimated_seconds", "simulate", "timings"]

#: Effective scattering coefficient of the hall's surfaces per octave band (Hz -> 0..1): the
#: share of a reflection's energy that leaves diffusely. Panelled walls, parquet, curtains and
#: the furniture, doors and balconies a shoebox leaves out: more scattering at shorter
#: wavelengths (Vorländer 2008 and Cox & D'Antonio 2009 give 0.1-0.3 for plain surfaces at low
#: frequencies and 0.5-0.8 for structured ones at high frequencies; geometric models of real
#: halls use the upper end for the detail they omit).
SCATTERING_BY_BAND = {125.0: 0.3, 250.0: 0.4, 500.0: 0.5, 1000.0: 0.6, 2000.0: 0.65, 4000.0: 0.7, 8000.0: 0.75}
#: Image sources of order k >= 2 move by up to min(step * (k - 1), max) metres per axis: enough to
#: decorrelate an ideal box's coincident images at 125 Hz (a quarter wavelength is 0.7 m) from
#: the third order on (see _scatter_images).
SCATTER_STEP_M = 0.4
SCATTER_MAX_M = 1.5
#: The IR runs until the slowest band has decayed this far after the images fade.
TAIL_DYNAMIC_RANGE_DB = 80.0
#: How far before the arrival the interpolation filter may ring above -40 dB (samples).
PRE_RINGING_SAMPLES = 24
#: The IRs are high-passed (causally) here: no DC, as a real mic hears none.
DC_BLOCK_HZ = 10.0
#: The decay correction stops when this realisation's T30 is this close to the asked one.
T30_TOLERANCE = 0.002
_FRAC_DELAY_HALF = 40  # pyroomacoustics' fractional delay filter: 81 taps, centred (frac_delay_length // 2)
_DECAY_RATE = 3.0 * math.log(10.0)  # amplitude exp(-rate t / T): 60 dB of energy in T


@dataclass(frozen=True)
class Timing:
    """One mic's early part (s from the singing): the direct sound, the first reflection, and the
    images' fade ``[crossover, crossover + width]``."""

    direct_s: float
    first_reflection_s: float
    crossover_s: float
    width_s: float

    @property
    def end_s(self) -> float:
        return self.crossover_s + self.width_s


def timings(room: Room, source: np.ndarray, positions: Sequence[np.ndarray]) -> list[Timing]:
    """When each mic's images fade: past the mixing time, never during the direct sound.

    Polack's mixing time ``sqrt(V)`` ms marks where reflections become dense; at ``2 sqrt(V)`` ms a
    shoebox has ``4 pi c^3 t^2 / V`` = about 2000 reflections/s whatever its volume. The fade is
    ``sqrt(V)`` ms wide (at least 5 ms) and starts at least that long after the direct sound.
    """
    width_s = max(math.sqrt(room.volume_m3) * 1e-3, 5e-3)
    c = room.speed_of_sound_m_s
    size = np.asarray(room.size_m, dtype=np.float64)
    out = []
    for position in positions:
        direct_s = float(np.linalg.norm(position - source)) / c
        first_m = math.inf
        for axis in range(3):
            for wall in (0.0, size[axis]):
                image = source.copy()
                image[axis] = 2.0 * wall - source[axis]
                first_m = min(first_m, float(np.linalg.norm(image - position)))
        out.append(Timing(direct_s, first_m / c, max(2.0 * width_s, direct_s + width_s), width_s))
    return out


def _ism_order(room: Room, end_s: float) -> int:
    """The smallest ISM order holding every image closer than ``c * end_s``.

    An image with ``o_x, o_y, o_z`` reflections off each pair of walls lies at least
    ``(o_i - 1) L_i`` away along each axis, so by Cauchy-Schwarz its order is at most
    ``R sqrt(sum 1 / L_i^2) + 3`` at distance ``R``.
    """
    reach_m = room.speed_of_sound_m_s * end_s + math.sqrt(3.0) * SCATTER_MAX_M  # nudged images may come closer
    inverse = math.sqrt(sum(1.0 / float(v) ** 2 for v in room.size_m))
    return int(math.ceil(reach_m * inverse)) + 3


def scattering_by_band(centres_hz: np.ndarray) -> np.ndarray:
    """:data:`SCATTERING_BY_BAND` at ``centres_hz`` (interpolated in log frequency, ends held), ``(B,)``."""
    table_hz = np.array(sorted(SCATTERING_BY_BAND))
    values = np.array([SCATTERING_BY_BAND[f] for f in table_hz])
    return np.interp(np.log2(centres_hz), np.log2(table_hz), values)


def _band_weights(n_fft: int, sample_rate: int, centres_hz: np.ndarray) -> np.ndarray:
    """Amplitude-complementary octave-band weights on an rfft grid, shape ``(B, n_fft // 2 + 1)``.

    Each band is flat within a quarter octave of its centre and hands over to the next with a
    cos^2 over the half octave around their shared edge, so the bands sum to exactly 1 (0 below
    10 Hz, ramping to 1 at 20 Hz: no DC in the noise).
    """
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    octaves = np.log2(np.maximum(freqs, 1e-3) / centres_hz[0])
    weights = np.zeros((centres_hz.size, freqs.size))
    below = np.ones_like(freqs)  # share not yet given to lower bands
    for b in range(centres_hz.size):
        if b == centres_hz.size - 1:
            weights[b] = below
            break
        u = np.clip((octaves - b - 0.25) / 0.5, 0.0, 1.0)  # 0 up to c*2^0.25, 1 from c*2^0.75
        mine = np.cos(0.5 * np.pi * u) ** 2
        weights[b] = np.minimum(mine, below)
        below = below - weights[b]
    ramp = np.clip((freqs - 10.0) / 10.0, 0.0, 1.0)
    return weights * np.sin(0.5 * np.pi * ramp) ** 2


def _fade_amplitude(t_s: np.ndarray, timing: Timing) -> np.ndarray:
    """The images' weight at arrival time ``t_s``: 1, then cos down to 0 over the fade (energy cos^2)."""
    u = np.clip((np.asarray(t_s, dtype=np.float64) - timing.crossover_s) / timing.width_s, 0.0, 1.0)
    return np.cos(0.5 * np.pi * u)


def estimated_seconds(room: Room, n_mics: int, sample_rate: int) -> float:
    """A rough guess of a simulation's wall time (s), for progress messages.

    Measured on a 2-core machine: about 0.2 s plus 1 s per 4 million band-samples of noise,
    plus about 2 s to import pyroomacoustics the first time.
    """
    centres = band_centres_hz(sample_rate)
    longest_s = max(rt60_bands_s(room, sample_rate).values())
    band_samples = n_mics * centres.size * sample_rate * longest_s * TAIL_DYNAMIC_RANGE_DB / 60.0
    first_import_s = 0.0 if "pyroomacoustics" in sys.modules else 2.0
    return first_import_s + 0.2 + band_samples / 4e6


def simulate(
    room: Room,
    singer: Singer,
    mics: Sequence[Microphone],
    sample_rate: int,
    image_seed: int,
    noise_seeds: Sequence[int],
) -> list[np.ndarray]:
    """The impulse response of each simulated mic: one float32 row ``(L_m,)`` per mic, in order.

    One image-source run serves every mic; each row depends only on the room, the singer, that mic,
    the rate and its seeds, never on the other mics simulated with it. Inputs are assumed valid
    (:func:`.room.validate`).
    """
    import pyroomacoustics as pra  # lazy: heavy import
    from scipy.signal import butter  # lazy: scipy.signal is a slow import

    fs = sample_rate
    c = room.speed_of_sound_m_s
    centres = band_centres_hz(fs)
    alpha = wall_absorption(room, centres)
    rt60 = np.maximum(eyring_rt60_s(room, centres, alpha), 1e-3)
    source = np.asarray(singer.position_m, dtype=np.float64)
    positions = [np.asarray(m.position_m, dtype=np.float64) for m in mics]
    mic_timings = timings(room, source, positions)

    materials = {
        wall: pra.Material(
            energy_absorption={"coeffs": [float(a) for a in alpha[wall]], "center_freqs": [float(f) for f in centres]}
        )
        for wall in WALLS
    }
    sim = pra.ShoeBox(
        np.asarray(room.size_m, dtype=np.float64),
        fs=fs,
        max_order=_ism_order(room, max(t.end_s for t in mic_timings)),
        materials=materials,
        air_absorption=False,
    )
    sim.set_sound_speed(c)
    sim.add_source(source)
    for position in positions:
        sim.add_microphone(position)  # omni: the patterns are applied per image below
    sim.image_source_model()
    images = sim.sources[0]
    _scatter_images(images.images, images.orders, image_seed)
    ism = _Images(
        positions=np.asarray(images.images, dtype=np.float64),
        orders=np.asarray(images.orders),
        signs=(-1.0) ** np.asarray(images.orders_xyz, dtype=np.float64),
        damping=np.broadcast_to(np.asarray(images.damping, dtype=np.float64), (centres.size, images.orders.size)),
        octave_bands=sim.octave_bands,
    )
    dc_block = butter(2, DC_BLOCK_HZ, btype="highpass", fs=fs, output="sos")
    rows = []
    for m, (mic, timing, seed) in enumerate(zip(mics, mic_timings, noise_seeds)):
        paths = _paths(room, singer, mic, timing, ism, np.asarray(sim.visibility[0][m], dtype=bool), centres)
        early = _specular_part(room, mic, timing, paths, ism.octave_bands, centres, fs)
        noise, energy = _diffuse_bands(room, singer, mic, timing, paths, centres, rt60, fs, seed)
        start = int(round(timing.direct_s * fs))
        rows.append(_decay(early, noise, energy, centres, rt60, start, fs, dc_block).astype(np.float32))
    return rows


@dataclass(frozen=True)
class _Images:
    """The image sources of one ISM run: positions ``(3, n)`` (nudged), reflection orders ``(n,)``,
    the sign of each axis in the mirror transform ``(3, n)``, wall damping ``(B, n)`` (amplitude)."""

    positions: np.ndarray
    orders: np.ndarray
    signs: np.ndarray
    damping: np.ndarray
    octave_bands: object


@dataclass(frozen=True)
class _Paths:
    """The paths from the singer to one mic that arrive before its images fade: image positions
    ``(3, n)``, distances (m) and orders ``(n,)``, and per-band amplitude ``(B, n)`` before the
    distance and the air (walls, the singer's directivity along the path, the mic's pattern)."""

    positions: np.ndarray
    distance_m: np.ndarray
    orders: np.ndarray
    amplitude: np.ndarray


def _paths(
    room: Room, singer: Singer, mic: Microphone, timing: Timing, ism: _Images, visible: np.ndarray, centres: np.ndarray
) -> _Paths:
    c = room.speed_of_sound_m_s
    position = np.asarray(mic.position_m, dtype=np.float64)
    to_image = ism.positions.T - position[None, :]  # (n, 3)
    dist = np.linalg.norm(to_image, axis=1)
    keep = visible & (dist / c < timing.end_s)
    to_image, dist = to_image[keep], dist[keep]
    # The path leaves the real singer in the mirror image of the direction from the image to the mic.
    emitted = -to_image / dist[:, None] * ism.signs[:, keep].T
    source_gain = np.sqrt(singer_energy_gain(singer.directivity, centres, emitted @ singer_facing(singer, room)))
    pattern_gain = mic_gain(mic.pattern, to_image @ mic_axis(mic, np.asarray(singer.position_m, dtype=np.float64)) / dist)
    amplitude = ism.damping[:, keep] * source_gain * pattern_gain[None, :]
    return _Paths(ism.positions[:, keep], dist, ism.orders[keep], amplitude)


def _specular_part(
    room: Room, mic: Microphone, timing: Timing, paths: _Paths, octave_bands: object, centres: np.ndarray, fs: int
) -> np.ndarray:
    """The direct sound and the specular reflections a mic hears, faded out by ``timing.end_s``.

    Shape: ``(N,)`` float64, time zero = the singing. Each path keeps the specular share
    ``(1 - s)^(k / 2)`` of its amplitude and the fade's weight; pyroomacoustics adds the air,
    ``1 / r`` and the fractional delay.
    """
    from pyroomacoustics.parameters import constants
    from pyroomacoustics.simulation.ism import compute_ism_rir

    c = room.speed_of_sound_m_s
    specular_share = (1.0 - scattering_by_band(centres))[:, None] ** (0.5 * paths.orders[None, :])
    amplitude = paths.amplitude * specular_share * _fade_amplitude(paths.distance_m / c, timing)[None, :]
    proxy = types.SimpleNamespace(images=paths.positions, damping=amplitude, directivity=None)
    rir = compute_ism_rir(
        proxy,
        np.asarray(mic.position_m, dtype=np.float64),
        None,
        None,
        np.ones(paths.orders.size, dtype=bool),
        constants.get("frac_delay_length"),
        c,
        fs,
        octave_bands,
        min_phase=False,
        air_abs_coeffs=air_per_m(room, centres) if room.air_absorption else None,
    )
    out = np.asarray(rir, dtype=np.float64)[_FRAC_DELAY_HALF:]  # time zero = the singing
    # pyroomacoustics renders each band with a linear-phase octave filter: a reflection whose bands
    # differ in level (scattering, the voice) rings up to 16 ms before it, ~70 dB down. Nothing may
    # come before the direct sound: cut that ringing off beyond the fractional delay's own half length.
    first = int(round(timing.direct_s * fs)) - _FRAC_DELAY_HALF
    if first > 0:
        out[:first] = 0.0
    return out


def _scattered_energy(
    room: Room, timing: Timing, paths: _Paths, centres: np.ndarray, fs: int, n_out: int
) -> np.ndarray:
    """Energy per sample ``(B, n_out)`` the mic receives as scattered sound from the image paths.

    Each path of order ``k >= 1`` has had ``1 - (1 - s)^k`` of its energy scattered; that energy
    arrives from the path's own arrival on, spread by a gamma kernel ``tau / theta^2 e^(-tau / theta)``
    (mean delay ``2 theta``) with ``theta = k l / (4 c)``: scattered sound travels longer paths
    than the specular one, the more so the more surfaces it met. Computed on a 0.5 ms grid.
    """
    c = room.speed_of_sound_m_s
    step_s = 5e-4
    n_grid = int(math.ceil(n_out / fs / step_s)) + 1
    arrival_s = paths.distance_m / c
    fade = _fade_amplitude(arrival_s, timing) ** 2
    energy = (paths.amplitude / paths.distance_m) ** 2 * np.exp(-air_per_m(room, centres)[:, None] * paths.distance_m)
    scattered = 1.0 - (1.0 - scattering_by_band(centres))[:, None] ** paths.orders[None, :]
    weight = energy * scattered * fade[None, :] * (paths.orders > 0)[None, :]
    grid = np.zeros((centres.size, n_grid))
    theta_1 = room.mean_free_path_m / (4.0 * c)
    tau = np.arange(n_grid) * step_s
    for order in np.unique(paths.orders[paths.orders > 0]):
        chosen = paths.orders == order
        arrivals = np.zeros((centres.size, n_grid))
        cells = np.minimum(np.round(arrival_s[chosen] / step_s).astype(int), n_grid - 1)
        for b in range(centres.size):
            np.add.at(arrivals[b], cells, weight[b, chosen])
        theta = order * theta_1
        kernel = np.where(tau < 30.0 * theta, tau / theta**2 * np.exp(-tau / theta) * step_s, 0.0)  # sums to 1
        n_fft = _fast_len(2 * n_grid)
        spread = np.fft.irfft(np.fft.rfft(arrivals, n_fft) * np.fft.rfft(kernel, n_fft), n_fft)[:, :n_grid]
        grid += np.maximum(spread, 0.0)
    # Past the last arrival's kernel there is nothing but the FFT's rounding: zero it (the decay is undone later).
    last = float(np.max(arrival_s, initial=0.0)) + 30.0 * float(np.max(paths.orders, initial=1)) * theta_1
    grid[:, tau > last] = 0.0
    # Energy per grid cell to energy per sample, on the sample grid.
    t_s = np.arange(n_out) / fs
    per_sample = np.stack([np.interp(t_s, tau, g) for g in grid]) / (step_s * fs)
    per_sample[:, t_s < timing.first_reflection_s] = 0.0  # nothing is scattered before a wall is reached
    return per_sample


def _diffuse_bands(
    room: Room,
    singer: Singer,
    mic: Microphone,
    timing: Timing,
    paths: _Paths,
    centres: np.ndarray,
    rt60: np.ndarray,
    fs: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The diffuse field before its decay: per band, the band's share of one white Gaussian noise
    ``(B, N)`` and the energy envelope (per sample) to shape it by ``(B, N)``: the scattered
    energy of the image paths, and once the images fade, the statistical reverberant field
    (see the module docstring). The envelope is given without the decay ``exp(-13.8 t / T_b)``,
    which :func:`_decay` applies: the scattered part is divided by it here."""
    c = room.speed_of_sound_m_s
    n_out = int(math.ceil((timing.end_s + float(np.max(rt60)) * TAIL_DYNAMIC_RANGE_DB / 60.0) * fs))
    n_fft = _fast_len(n_out)
    weights = _band_weights(n_fft, fs, centres)
    t_s = np.arange(n_out) / fs
    # Energy per sample of the reverberant field at t = 0 for a unit source at 1 m, per band.
    level = (4.0 * math.pi * c / (room.volume_m3 * fs) * mic_diffuse_energy(mic.pattern)
             * np.asarray(diffuse_energy_factor(singer.directivity, centres), dtype=np.float64))
    statistical = 1.0 - _fade_amplitude(t_s, timing) ** 2  # the share the images no longer carry
    scattered = _scattered_energy(room, timing, paths, centres, fs, n_out)

    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n_fft))
    noise = np.empty((centres.size, n_out))
    energy = np.empty((centres.size, n_out))
    for b in range(centres.size):  # the bands of one white noise: with equal envelopes they sum to it
        noise[b] = np.fft.irfft(spectrum * weights[b], n_fft)[:n_out]
        undecay = np.exp(np.minimum(2.0 * _DECAY_RATE * t_s / rt60[b], 700.0))
        energy[b] = level[b] * statistical + scattered[b] * undecay
    return noise, energy


def _decay(
    early: np.ndarray,
    noise: np.ndarray,
    energy: np.ndarray,
    centres: np.ndarray,
    rt60: np.ndarray,
    start: int,
    fs: int,
    dc_block: np.ndarray,
) -> np.ndarray:
    """The row: the specular part plus each band's noise, shaped by its envelope and decay, high-passed.

    One realisation of noise decays a few % off the rate it was given (ISO 3382-2's uncertainty
    of a single decay, ~4 % at 125 Hz in a 1.5 s hall), and an octave filter also hears the skirts
    of the neighbouring bands, which decay at their own rates. So each band's rate is corrected by
    the error of its T30 as ISO 3382 measures it (the octave filter, the Schroeder integral from
    the direct sound, -5 to -35 dB): first on the specular part and this band's noise alone, then
    on the whole row; never by more than a quarter, and the whole-row step is kept only where it
    helps (the top bands' octave filters can hear more of their slower neighbours than of
    themselves). That tilts each decay line and leaves the wander about it untouched.
    Shapes: ``early`` ``(<= N,)``, ``noise`` and ``energy`` ``(B, N)``; returns ``(N,)``.
    """
    from scipy.signal import sosfilt

    from .measures import octave_band

    n = noise.shape[1]
    t_s = np.arange(n) / fs
    asked = _DECAY_RATE / rt60
    rates = asked.copy()
    shaped = noise * np.sqrt(energy)
    padded = np.zeros(n)
    padded[: min(n, early.size)] = early[:n]
    padded = np.asarray(sosfilt(dc_block, padded))
    measurable = [b for b in range(centres.size) if centres[b] * math.sqrt(2.0) < fs / 2.0]

    def corrected(b: int, measured: float | None) -> float:
        if measured is None:
            return float(rates[b])
        step = rates[b] + _DECAY_RATE * (1.0 / rt60[b] - 1.0 / measured)
        return float(min(max(step, 0.8 * asked[b]), 1.25 * asked[b]))

    def band_of(x: np.ndarray, b: int) -> np.ndarray:
        return octave_band(x, fs, float(centres[b])) if b in measurable else x

    def decayed(b: int, rate: float) -> np.ndarray:
        x = shaped[b] * np.exp(-rate * t_s)
        return np.asarray(sosfilt(dc_block, x)) if b == 0 else x  # the 10 Hz high-pass matters to 125 Hz only

    for b in range(centres.size):  # this band's noise alone
        for _ in range(4):
            measured = _t30_s(band_of(padded + decayed(b, rates[b]), b), start, fs)
            if measured is None or abs(measured / rt60[b] - 1.0) < T30_TOLERANCE:
                break
            rates[b] = corrected(b, measured)
    parts = np.stack([decayed(b, rates[b]) for b in range(centres.size)])
    for _ in range(2):  # the whole row, as a listener's octave filter hears it
        row = padded + parts.sum(axis=0)
        for b in measurable:
            before = _t30_s(octave_band(row, fs, float(centres[b])), start, fs)
            if before is None or abs(before / rt60[b] - 1.0) < T30_TOLERANCE:
                continue
            trial_rate = corrected(b, before)
            trial = decayed(b, trial_rate)
            after = _t30_s(octave_band(row - parts[b] + trial, fs, float(centres[b])), start, fs)
            if after is not None and abs(after / rt60[b] - 1.0) < abs(before / rt60[b] - 1.0):
                row = row - parts[b] + trial
                parts[b], rates[b] = trial, trial_rate
    return padded + parts.sum(axis=0)


def _t30_s(x: np.ndarray, start: int, fs: int) -> float | None:
    """T30 (s) of ``x`` from sample ``start``: the Schroeder integral fitted from -5 to -35 dB, on
    0.25 ms blocks of energy (a fast :func:`.measures.decay_time_s` for signals without noise)."""
    block = max(1, fs // 4000)
    energy = x[start:] ** 2
    energy = energy[: energy.size // block * block].reshape(-1, block).sum(axis=1)
    remaining = np.cumsum(energy[::-1])[::-1]
    if not remaining[0] > 0.0:
        return None
    edc_db = 10.0 * np.log10(np.maximum(remaining / remaining[0], 1e-300))
    if not edc_db[-1] <= -35.0:
        return None
    i0, i1 = int(np.argmax(edc_db <= -5.0)), int(np.argmax(edc_db <= -35.0))
    if i1 - i0 < 3:
        return None
    t = np.arange(i0, i1 + 1) * (block / fs)
    y = edc_db[i0 : i1 + 1]
    slope = float(np.mean((t - t.mean()) * (y - y.mean())) / np.var(t))
    return -60.0 / slope if slope < 0.0 else None


def _scatter_images(images: np.ndarray, orders: np.ndarray, seed: int) -> None:
    """Move image sources of order >= 2 by a seeded random offset, in place; ``images`` is ``(3, n)``.

    An ideal shoebox lines its images up on a lattice: reflections arrive in exactly coincident
    groups when the singer and a mic share a symmetry plane (the two side walls; in the heroes
    room, whose height is half its width, the floor-ceiling pair too), and sweep in pitch later
    on. Below 300 Hz such groups add up coherently, 6-10 dB above their energies' sum: a boom no
    real hall has, because no hall is a perfect box (walls out of parallel and plumb, recesses,
    galleries, doors). Like the randomised ISM (De Sena et al., IEEE/ACM TASLP 23(1), 2015;
    pyroomacoustics' ``use_rand_ism``, which also moves the direct sound), we jitter each image,
    here by up to ``SCATTER_STEP_M * (order - 1)`` (at most ``SCATTER_MAX_M``) per axis, keeping
    the direct sound and the first reflections exact. Each image's offset is a hash of its exact
    lattice position and ``seed``, so it does not depend on which other images were computed.
    """
    reach = np.minimum(SCATTER_STEP_M * np.maximum(orders - 1, 0), SCATTER_MAX_M)
    cells = np.round(images * 1e4).astype(np.int64).view(np.uint64)  # 0.1 mm lattice keys, (3, n)
    with np.errstate(over="ignore"):
        key: np.ndarray = np.asarray(seed & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64)
        for axis in range(3):
            key = _splitmix64(key ^ cells[axis])
        for axis in range(3):
            bits = _splitmix64(key + np.uint64(axis + 1))
            unit = (bits >> np.uint64(11)).astype(np.float64) / float(1 << 53)  # uniform [0, 1)
            images[axis] += (2.0 * unit - 1.0) * reach


def _splitmix64(x: np.ndarray | np.uint64) -> np.ndarray:
    """SplitMix64's finaliser (Steele et al., OOPSLA 2014): a well-mixed 64-bit hash, element-wise."""
    z = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.asarray(z ^ (z >> np.uint64(31)))


def _fast_len(n: int) -> int:
    from scipy.fft import next_fast_len  # lazy: scipy is a slow import

    return int(next_fast_len(int(n), real=True))
