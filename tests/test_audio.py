"""Audio in and out: formats, rates, channels, atomic writes, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from roomgate import AudioInputError, OutputError
from roomgate.io.audio import (
    as_channels_first,
    atomic_output,
    audio_info,
    downmix_to_mono,
    read_audio,
    resample,
    write_audio,
)


def _tone(channels: int, sample_rate: int, seconds: float = 0.25) -> np.ndarray:
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    return np.stack([0.5 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)]).astype(np.float32)


@pytest.mark.parametrize(
    ("extension", "subtype", "tolerance"),
    [(".wav", "PCM_16", 1e-4), (".wav", "PCM_24", 1e-6), (".wav", "FLOAT", 0.0), (".flac", "PCM_24", 1e-6),
     (".aiff", "PCM_16", 1e-4), (".ogg", "VORBIS", 0.05)],
)
@pytest.mark.parametrize("channels", [1, 2, 8])
def test_round_trip(tmp_path, extension: str, subtype: str, tolerance: float, channels: int) -> None:
    audio = _tone(channels, 44_100)
    path = write_audio(tmp_path / f"x{extension}", audio, 44_100, subtype)
    back, rate = read_audio(path)
    assert rate == 44_100 and back.shape == audio.shape and back.dtype == np.float32
    assert audio_info(path).subtype == subtype
    if extension == ".ogg":  # lossy: compare energies
        assert np.sqrt(np.mean(back**2)) == pytest.approx(np.sqrt(np.mean(audio**2)), rel=tolerance)
    else:
        np.testing.assert_allclose(back, audio, atol=tolerance)


@pytest.mark.parametrize("rate", [8_000, 11_025, 22_050, 44_100, 48_000, 88_200, 96_000, 192_000])
def test_rates_from_8k_to_192k(tmp_path, rate: int) -> None:
    path = write_audio(tmp_path / "x.wav", _tone(1, rate), rate)
    back, back_rate = read_audio(path)
    assert back_rate == rate and back.shape[1] == int(rate * 0.25)


def test_resample_keeps_a_tone() -> None:
    audio = _tone(2, 44_100, 1.0)
    out = resample(audio, 44_100, 48_000)
    assert out.shape == (2, 48_000)
    reference = _tone(2, 48_000, 1.0)
    np.testing.assert_allclose(out[:, 1000:-1000], reference[:, 1000:-1000], atol=2e-3)


def test_downmix_averages() -> None:
    audio = np.stack([np.ones(10), -np.ones(10) * 0.5]).astype(np.float32)
    np.testing.assert_allclose(downmix_to_mono(audio), np.full((1, 10), 0.25))


def test_shapes_checked_at_the_door() -> None:
    assert as_channels_first(np.zeros(5)).shape == (1, 5)
    with pytest.raises(AudioInputError, match=r"\(480000, 2\).*audio.T"):
        as_channels_first(np.zeros((480_000, 2)))
    with pytest.raises(AudioInputError, match="3-D"):
        as_channels_first(np.zeros((1, 2, 3)))
    with pytest.raises(AudioInputError, match="NaN"):
        as_channels_first(np.array([[0.0, np.nan]]))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"this is not audio at all" * 10), "not a readable audio file"),
        (lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt "), "not a readable audio file"),
    ],
)
def test_bad_files_are_named(tmp_path, make, message: str) -> None:
    path = tmp_path / "input.wav"
    make(path)
    with pytest.raises(AudioInputError, match=f"input.wav.*{message}"):
        read_audio(path)


def test_zero_length_audio_is_refused(tmp_path) -> None:
    path = tmp_path / "empty.wav"
    soundfile.write(str(path), np.zeros((0, 1), np.float32), 44_100)
    with pytest.raises(AudioInputError, match="no samples"):
        read_audio(path)


def test_atomic_output_leaves_nothing_on_failure(tmp_path) -> None:
    target = tmp_path / "out.wav"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_write_refuses_missing_folder_and_unknown_extension(tmp_path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        write_audio(tmp_path / "nope" / "x.wav", _tone(1, 8000), 8000)
    with pytest.raises(OutputError, match="unknown audio extension"):
        write_audio(tmp_path / "x.mp9", _tone(1, 8000), 8000)


def test_subtype_falls_back_when_the_format_cannot_hold_it(tmp_path) -> None:
    path = write_audio(tmp_path / "x.wav", _tone(1, 8000), 8000, "VORBIS")
    assert audio_info(path).subtype == "PCM_24"  # a lossy take to an uncompressed container


@pytest.mark.parametrize(("extension", "source", "expected"), [
    (".wav", "MPEG_LAYER_III", "PCM_24"),  # libsndfile's table lists it for WAV, yet cannot write it
    (".wav", "PCM_16", "PCM_16"),
    (".flac", "FLOAT", "PCM_24"),
    (".ogg", "PCM_16", "VORBIS"),
    (".aiff", "FLOAT", "FLOAT"),
])
def test_the_chosen_subtype_is_really_writable(tmp_path, extension: str, source: str, expected: str) -> None:
    from roomgate.io.audio import choose_subtype

    assert choose_subtype(tmp_path / f"x{extension}", source) == expected
    path = write_audio(tmp_path / f"x{extension}", _tone(1, 8000), 8000, source)
    assert audio_info(path).subtype == expected


def test_a_requested_subtype_the_format_cannot_write_is_refused_up_front(tmp_path) -> None:
    from roomgate.io.audio import choose_subtype, writable_subtypes

    assert "MPEG_LAYER_III" not in writable_subtypes(tmp_path / "x.wav")
    with pytest.raises(OutputError, match=r"--subtype MPEG_LAYER_III: a WAV file cannot hold it; .*PCM_24"):
        choose_subtype(tmp_path / "x.wav", requested="MPEG_LAYER_III")
    with pytest.raises(OutputError, match="GSM610"):  # mono only
        choose_subtype(tmp_path / "x.wav", requested="GSM610", channels=2)
    assert choose_subtype(tmp_path / "x.wav", requested="pcm_24") == "PCM_24"


def test_outputs_get_ordinary_permissions(tmp_path) -> None:
    import os
    import stat

    path = write_audio(tmp_path / "x.wav", _tone(1, 8000), 8000)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_a_missing_file_is_also_a_file_not_found_error(tmp_path) -> None:
    from roomgate import AudioFileNotFoundError
    from roomgate.io.audio import audio_info

    for reader in (read_audio, audio_info):
        with pytest.raises(FileNotFoundError, match="nowhere.wav: no such file") as caught:
            reader(tmp_path / "nowhere.wav")
        assert isinstance(caught.value, AudioInputError) and isinstance(caught.value, AudioFileNotFoundError)
