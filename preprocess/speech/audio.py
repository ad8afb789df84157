"""Decoding and checking audio: every way a file can be broken or unusable becomes an
``AudioRejected`` with a reason kind, a score and a threshold (or an error for quarantine).

Order matters: non-finite samples and the original sample rate are checked on the decoded file,
clipping before any gain, silence and SNR before trimming (the pauses are where the noise floor
is measured), duration after trimming, loudness normalisation last.
"""

from __future__ import annotations

import io
import re
import struct

import numpy as np

TARGET_SR = 22_050  # HiFi-GAN / Matcha-TTS (LJSpeech) rate
CLIP_LEVEL = 0.999  # |x| at or above this (of full scale) counts as clipped
# sample rates a file may declare: outside them the header is broken (0 Hz made soxr raise "Sample
# rate should be over 0", 4e9 Hz resampled 11,000 samples to none and the loudness step raised on the
# empty array: both quarantined as analysis_error with a library's message). 768 kHz is the highest
# rate of audio interfaces; 1 kHz is far below the 16 kHz the sample_rate filter asks for.
MIN_FILE_SR, MAX_FILE_SR = 1_000, 768_000


class AudioRejected(Exception):
    """``status`` is "rejected" for a filter decision, "quarantined" for a broken file."""

    def __init__(self, kind: str, detail: str, score: float | None = None, threshold: float | None = None, status: str = "rejected"):
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail, self.score, self.threshold, self.status = kind, detail, score, threshold, status


def clean_error(e: Exception) -> str:
    """An error message without object reprs or memory addresses (reasons must be reproducible)."""
    msg = re.sub(r"<[^>]*at 0x[0-9a-fA-F]+>", "<data>", str(e))
    msg = re.sub(r"0x[0-9a-fA-F]{6,}", "0x?", msg)
    return f"{type(e).__name__}: {' '.join(msg.split())}"


def _wav_data_chunk(data: bytes) -> tuple[int, int] | None:
    """(offset of the size field, declared size) of a RIFF/WAVE's data chunk; None when the bytes
    are no RIFF/WAVE; (-1, 0) when no data chunk is found."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if cid == b"data":
            return pos + 4, size
        pos += 8 + size + (size & 1)
    return -1, 0


def _wav_truncation(data: bytes) -> str | None:
    """A RIFF/WAVE whose data chunk claims more bytes than the file holds (libsndfile reads such a
    file without complaint, silently shorter)."""
    chunk = _wav_data_chunk(data)
    if chunk is None:
        return None
    at, size = chunk
    if at < 0:
        return "no data chunk"
    have = len(data) - at - 4
    return None if have >= size or size == 0xFFFFFFFF else f"data chunk declares {size} bytes, file holds {have}"


def _aiff_truncation(data: bytes) -> str | None:
    """An AIFF/AIFC whose sound data chunk (SSND) declares more bytes than the file holds: libsndfile
    reads it silently shorter, as a cut WAV."""
    if len(data) < 12 or data[:4] != b"FORM" or data[8:12] not in (b"AIFF", b"AIFC"):
        return None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack(">I", data[pos + 4:pos + 8])[0]
        if cid == b"SSND":
            have = len(data) - pos - 8
            return None if have >= size else f"SSND chunk declares {size} bytes, file holds {have}"
        pos += 8 + size + (size & 1)
    return None


def _ogg_truncation(data: bytes) -> str | None:
    """An Ogg stream (Vorbis, Opus) cut short: its last page runs past the end of the file, or is no
    end-of-stream page (header flag 4). libsndfile reads such a file without complaint, silently
    shorter: a take cut at 60% was accepted with its whole transcript. Pages that do not start
    where the previous one ended are left to the decoder."""
    if data[:4] != b"OggS":
        return None
    pos, end_of_stream = 0, False
    while pos < len(data):
        if not b"OggS".startswith(data[pos:pos + 4]):
            return None
        if pos + 27 > len(data):
            return f"last page cut short: {len(data) - pos} bytes of its header"
        segments = data[pos + 26]
        size = 27 + segments + sum(data[pos + 27:pos + 27 + segments])
        if pos + size > len(data):
            return f"last page cut short: {len(data) - pos} of its {size} bytes"
        end_of_stream = bool(data[pos + 5] & 4)
        pos += size
    return None if end_of_stream else "no end-of-stream page (the file ends mid-stream)"


def _crc(data: bytes, poly: int, bits: int) -> int:
    """FLAC's CRCs (MSB first, initial 0): CRC-8 poly 0x07 over a frame header, CRC-16 poly 0x8005 over a frame."""
    top, mask, crc = 1 << (bits - 1), (1 << bits) - 1, 0
    for byte in data:
        crc ^= byte << (bits - 8)
        for _ in range(8):
            crc = ((crc << 1) ^ poly) & mask if crc & top else (crc << 1) & mask
    return crc


def _flac_frame_header(data: bytes, at: int, fixed_block: int) -> tuple[int, int] | None:
    """(first sample, block size) of the FLAC frame whose header starts at ``at``; None where the bytes
    there are no frame header (its CRC-8 does not match: a sync code inside audio data)."""
    head = data[at:at + 16]
    if len(head) < 5 or head[0] != 0xFF or head[1] & 0xFE != 0xF8:
        return None
    code, rate_code, pos = head[2] >> 4, head[2] & 0x0F, 4
    lead = head[pos]
    extra = next((n for n, m in ((0, 0x80), (1, 0xE0), (2, 0xF0), (3, 0xF8), (4, 0xFC), (5, 0xFE), (6, 0xFF))
                  if lead & m == (m << 1) & 0xFF), None)  # the frame/sample number, UTF-8 coded (up to 7 bytes)
    if code == 0 or extra is None or len(head) < pos + extra + 1:
        return None
    number = lead & (0x7F >> extra) if extra else lead
    for b in head[pos + 1:pos + 1 + extra]:
        number = (number << 6) | (b & 0x3F)
    pos += 1 + extra
    if code in (6, 7):  # the block size follows, less one
        size_bytes = code - 5
        block = int.from_bytes(head[pos:pos + size_bytes], "big") + 1
        pos += size_bytes
    else:
        block = 192 if code == 1 else 576 << (code - 2) if code <= 5 else 256 << (code - 8)
    pos += {12: 1, 13: 2, 14: 2}.get(rate_code, 0)  # a sample rate written out after the header
    if len(head) <= pos or _crc(head[:pos], 0x07, 8) != head[pos]:
        return None
    variable = head[1] & 1
    return (number if variable else number * fixed_block), block


def _flac_truncation(data: bytes) -> str | None:
    """A FLAC cut short: its last frame ends past the end of the file (its CRC-16 does not match), or
    the last frame is whole but ends before the samples STREAMINFO declares (cut at a frame boundary).
    libsndfile says only "flac decoder lost sync" (quarantined decode_error, where a cut WAV, OGG or
    MP3 is truncated). Damage elsewhere in a file whose end is whole is left to the decoder."""
    if data[:4] != b"fLaC" or len(data) < 42 or data[4] & 0x7F != 0:  # STREAMINFO is the first block
        return None
    info = data[8:42]
    fixed_block = int.from_bytes(info[0:2], "big")  # the minimum block size: every frame's, in a fixed-size stream
    max_frame = int.from_bytes(info[7:10], "big") or 1 << 20
    declared = int.from_bytes(info[13:18], "big") & ((1 << 36) - 1)
    at, floor = len(data), max(42, len(data) - max_frame - 16)
    while (at := max(data.rfind(b"\xff\xf8", floor, at), data.rfind(b"\xff\xf9", floor, at))) >= 0:
        frame = _flac_frame_header(data, at, fixed_block)
        if frame is None:
            continue
        first, block = frame
        if _crc(data[at:-2], 0x8005, 16) != int.from_bytes(data[-2:], "big"):
            return f"last frame (from sample {first}) cut short" + (f"; STREAMINFO declares {declared} samples" if declared else "")
        if declared and first + block < declared:
            return f"the frames end at sample {first + block}, STREAMINFO declares {declared}"
        return None
    return None


MP3_FRAME = 1152  # samples of an MPEG-1 layer III frame


def _declared_but_missing(fmt: str, declared: int, decoded: int) -> str | None:
    """An MP3 whose Xing/Info header counts more samples than its frames hold (cut short; libsndfile
    decodes what is there, silently shorter). Within two frames and 1% is no cut: without that
    header the count is estimated from the file's size, tags included."""
    if fmt != "MP3" or not 0 < declared < 2**62:
        return None
    if declared - decoded > max(2 * MP3_FRAME, 0.01 * declared):
        return f"header declares {declared} samples, the file holds {decoded}"
    return None


RIFF_MAX_SIZE = 0xFFFFFFFF  # the largest size a RIFF chunk header can declare (32 bits): 4 GiB less a byte


def _wav_with_open_data_size(data: bytes) -> bytes:
    """A RIFF/WAVE whose data chunk declares 0 bytes with samples after it (a recorder stopped
    before writing the sizes, as a streaming writer does) with the sizes the file actually has;
    libsndfile would read it as empty. When those sizes do not fit RIFF's 32 bits (a take over
    4 GiB), and for a data size of 0xFFFFFFFF (a streaming writer's "unknown") with more than
    that after it, the file becomes an RF64 (EBU Tech 3306: "RF64", a ds64 chunk with the 64-bit
    sizes, 0xFFFFFFFF in the 32-bit fields), which libsndfile reads to its end; it read such a
    WAVE as its first 4 GiB, and packing the size raised struct.error. Anything else comes back unchanged."""
    chunk = _wav_data_chunk(data)
    if chunk is None or chunk[0] < 0:
        return data
    at, declared = chunk
    size = len(data) - at - 4
    if size <= 0 or not (declared == 0 or declared == RIFF_MAX_SIZE < size):
        return data
    if len(data) - 8 <= RIFF_MAX_SIZE:
        return data[:4] + struct.pack("<I", len(data) - 8) + data[8:at] + struct.pack("<I", size) + data[at + 4:]
    ds64 = b"ds64" + struct.pack("<IQQQI", 28, len(data) + 36 - 8, size, 0, 0)  # RIFF size, data size, frames (unused), no table
    open_size = struct.pack("<I", RIFF_MAX_SIZE)
    return b"RF64" + open_size + b"WAVE" + ds64 + data[12:at] + open_size + data[at + 4:]


# A file whose header says it is longer than max_duration by more than this is rejected unread
# (reject_if_longer). The limit judges the trimmed length, and trimming cuts only the quiet at either
# end, so within this margin the file is decoded and judged as before; beyond it, only a take with
# more than this much leading and trailing quiet could pass, and decoding costs ~150 MB per minute.
UNDECODED_MARGIN_S = 30.0


def header_seconds(data: bytes) -> float | None:
    """The length in seconds that the file's header declares (frames / sample rate), without
    decoding its samples; None when libsndfile cannot tell (an empty, truncated or unknown file:
    decode_audio says what is wrong with it, or decodes it with audioread)."""
    import soundfile as sf

    if not data:
        return None
    data = _wav_with_open_data_size(data)
    if _wav_truncation(data):
        return None
    try:
        info = sf.info(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - libsndfile raises LibsndfileError/RuntimeError
        return None
    if info.samplerate <= 0 or not 0 < info.frames < 2**62:  # a length libsndfile does not know reads as 2^63-1
        return None
    return info.frames / info.samplerate


def reject_if_longer(data: bytes, max_seconds: float) -> None:
    """AudioRejected ``max_duration`` (the decoded path's reason and verdict, with the header's length
    as the score) when the header says the file is longer than max_seconds + UNDECODED_MARGIN_S:
    a 30-minute FLAC of 34 MB decoded to 4.8 GB before the decoded length was judged."""
    seconds = header_seconds(data)
    if seconds is not None and seconds > max_seconds + UNDECODED_MARGIN_S:
        raise AudioRejected("max_duration", f"score {seconds:g} vs threshold {max_seconds:g}", seconds, max_seconds)


def decode_audio(data: bytes) -> tuple[np.ndarray, int]:
    """bytes -> (float32 [n, channels] in [-1, 1], sample rate). wav/flac/ogg/mp3 via libsndfile,
    audioread as a fallback for what libsndfile lacks. Raises AudioRejected(status=quarantined)."""
    import soundfile as sf

    if not data:  # as video and image say it, not as libsndfile's error
        raise AudioRejected("empty_file", "0 bytes", status="quarantined")
    data = _wav_with_open_data_size(data)
    truncated = _wav_truncation(data) or _aiff_truncation(data) or _ogg_truncation(data)
    if truncated:
        raise AudioRejected("truncated", truncated, status="quarantined")
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            fmt, declared, sr = f.format, f.frames, f.samplerate
            x = f.read(dtype="float32", always_2d=True)
    except Exception as e:  # noqa: BLE001 - libsndfile raises LibsndfileError/RuntimeError
        truncated = _flac_truncation(data)  # checked only now: a whole FLAC may carry a tag after its frames
        if truncated:
            raise AudioRejected("truncated", truncated, status="quarantined") from None
        try:
            (x, sr), fmt, declared = _decode_audioread(data), "", 0
        except Exception:  # noqa: BLE001
            raise AudioRejected("decode_error", clean_error(e), status="quarantined") from None
    truncated = _declared_but_missing(fmt, declared, len(x))
    if truncated:
        raise AudioRejected("truncated", truncated, status="quarantined")
    if x.size == 0:
        raise AudioRejected("decode_error", "no samples", status="quarantined")
    if not MIN_FILE_SR <= sr <= MAX_FILE_SR:
        raise AudioRejected("decode_error", f"header sample rate {sr} Hz, outside {MIN_FILE_SR}..{MAX_FILE_SR} Hz", status="quarantined")
    bad = int((~np.isfinite(x)).sum())
    if bad:
        raise AudioRejected("invalid_samples", f"{bad} non-finite samples of {x.size}", float(bad), 0.0, status="quarantined")
    return x, int(sr)


def _decode_audioread(data: bytes) -> tuple[np.ndarray, int]:
    import tempfile

    import audioread

    with tempfile.NamedTemporaryFile(suffix=".audio") as f:
        f.write(data)
        f.flush()
        with audioread.audio_open(f.name) as af:
            sr, ch = af.samplerate, af.channels
            pcm = np.frombuffer(b"".join(af), dtype="<i2")
    return (pcm.astype(np.float32) / 32768.0).reshape(-1, ch), int(sr)


def clipping_ratio(x: np.ndarray) -> float:
    """Share of samples at full scale. A float file may go past 1.0 without clipping (a DAW's export
    above 0 dBFS keeps every sample): its full scale is its own peak, so only samples flattened at
    that peak count. Before, a clean take exported 9.5 dB hot was rejected clipping_ratio (1.5%)."""
    a = np.abs(x)
    return float((a >= CLIP_LEVEL * max(1.0, float(a.max(initial=0.0)))).mean())


def downmix(x: np.ndarray) -> np.ndarray:
    """Mono, without DC offset. Channels in opposite phase (a miswired microphone) cancel in the
    mean: when the mean keeps less than a quarter of the channels' level, the loudest channel is used."""
    if x.ndim == 2 and x.shape[1] > 1:
        x = x - x.mean(axis=0)
        y = x.mean(axis=1)
        per_channel = np.sqrt(np.mean(np.square(x, dtype=np.float64), axis=0))
        if np.sqrt(np.mean(np.square(y, dtype=np.float64))) < 0.25 * per_channel.mean():
            y = x[:, int(np.argmax(per_channel))]
        return y
    y = x[:, 0] if x.ndim == 2 else x
    return y - y.mean()


def resample(y: np.ndarray, sr: int, target: int = TARGET_SR) -> np.ndarray:
    if sr == target:
        return y.astype(np.float32)
    import soxr

    return soxr.resample(y, sr, target, quality="HQ").astype(np.float32)


def rms_dbfs(y: np.ndarray) -> float:
    """-200 dBFS (the floor) for no samples, without numpy's "Mean of empty slice" warning."""
    power = float(np.mean(np.square(y, dtype=np.float64))) if np.size(y) else 0.0
    return float(10 * np.log10(power + 1e-20))


SNR_FFT, SNR_HOP = 1024, 256  # power STFT of the SNR estimate (Hann window)
SNR_BAND_BINS = 16  # linear-frequency bands of 16 bins (344 Hz at 22,050 Hz)
SNR_CELL_PERCENTILE = 5.0  # floor 1: this percentile of a band's (frame, bin) cells ...
SNR_CELL_BIAS = 1.0 / -np.log(1.0 - SNR_CELL_PERCENTILE / 100.0)  # ... times this: a noise cell's power is exponential
SNR_FRAME_PERCENTILE = 10.0  # floor 2: this percentile of a band's power over frames ...
SNR_FRAME_BIAS = 1.64  # ... times this, the mean over that percentile for Gaussian noise in a 1 s take (snr_frame_bias())


def _snr_cells(y: np.ndarray) -> np.ndarray:
    """[frames, bands, SNR_BAND_BINS] power of y's STFT cells (DC bin left out)."""
    y = np.asarray(y, dtype=np.float64)
    if len(y) < SNR_FFT:
        y = np.pad(y, (0, SNR_FFT - len(y)))
    n = 1 + (len(y) - SNR_FFT) // SNR_HOP
    idx = np.arange(SNR_FFT)[None, :] + SNR_HOP * np.arange(n)[:, None]
    power = np.square(np.abs(np.fft.rfft(y[idx] * np.hanning(SNR_FFT + 1)[:-1], axis=1)))[:, 1:]
    bands = power.shape[1] // SNR_BAND_BINS
    return power[:, : bands * SNR_BAND_BINS].reshape(n, bands, SNR_BAND_BINS)


def snr_frame_bias(seconds: float = 1.0, clips: int = 20, seed: int = 0) -> float:
    """Mean over SNR_FRAME_PERCENTILE-th percentile of the band power of white Gaussian noise, in
    clips as short as a spoken word (the percentile of a few dozen frames): SNR_FRAME_BIAS's source."""
    rng = np.random.default_rng(seed)
    ratios = []
    for _ in range(clips):
        b = _snr_cells(rng.normal(0, 1, int(seconds * TARGET_SR))).sum(axis=2)
        ratios.append(b.mean(axis=0).sum() / np.percentile(b, SNR_FRAME_PERCENTILE, axis=0).sum())
    return float(np.mean(ratios))


def snr_db(y: np.ndarray, *, cap: float = 100.0) -> float:
    """Blind estimate of the take's SNR in dB, 10 log10(speech power / noise power) over the whole
    clip. ``y`` is mono at TARGET_SR, as curation.prepare resamples every take before measuring it:
    the frames (SNR_FFT, SNR_HOP samples) and bands (SNR_BAND_BINS bins, 344 Hz) are sized for that
    rate, so there is no rate to pass (an ``sr`` argument was taken and never read). Per linear-frequency band of the power STFT (power adds there: E|S + N|^2 = |S|^2 + E|N|^2),
    the noise floor is the lower of two minimum statistics, each divided by its expected share of
    Gaussian noise's mean: a low percentile of the band's (frame, bin) cells (speech leaves gaps
    between its harmonics) and a low percentile of the band's power over frames (speech is quiet in
    some band at almost every moment, steady noise fills every band all the time); the speech
    power is the band's mean power less its floor.

    Measured (/tmp/fix35 scripts, espeak-ng takes + white or speech-shaped Gaussian noise at a
    known SNR): within ~2 dB of the true SNR from -5 to 15 dB (around the 10 dB threshold within
    1 dB on white noise, 2.4 on speech-shaped); above ~20 dB it reads low, bounded by the quietest
    parts of the speech itself (clean espeak-ng takes read 19-43 dB, a whispery voice as low as 3).
    The former log-mel estimate read true -6/0/5/10/30 dB as 4.9/8.6/13.3/17.1/27.5. Digital
    silence under the voice reads ``cap``."""
    cells = _snr_cells(y)
    n, bands, width = cells.shape
    power = cells.sum(axis=2)  # [frames, bands]
    by_cell = np.percentile(cells.transpose(1, 0, 2).reshape(bands, -1), SNR_CELL_PERCENTILE, axis=1) * SNR_CELL_BIAS * width
    by_frame = np.percentile(power, SNR_FRAME_PERCENTILE, axis=0) * SNR_FRAME_BIAS
    noise = np.minimum(by_cell, by_frame)
    total = float(noise.sum())
    if total <= 1e-20:
        return cap
    signal = float(np.maximum(power.mean(axis=0) - noise, 0.0).sum())
    return float(min(cap, 10 * np.log10(max(signal, 1e-20) / total)))


def trim_silence(y: np.ndarray, top_db: float, frame: int = 1024, hop: int = 256) -> np.ndarray:
    """Cut leading and trailing frames whose RMS is more than top_db below the loudest frame
    (librosa.effects.trim's rule, in numpy: its numba compilation costs seconds per worker)."""
    if len(y) < frame:
        return y
    n = 1 + (len(y) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    rms = np.sqrt(np.mean(np.square(y[idx], dtype=np.float64), axis=1))
    db = 20 * np.log10(np.maximum(rms, 1e-10) / max(rms.max(), 1e-10))
    loud = np.flatnonzero(db > -top_db)
    if len(loud) == 0:
        return y[:0]
    return y[loud[0] * hop : min(len(y), loud[-1] * hop + frame)]


def normalise_loudness(y: np.ndarray, sr: int, target_lufs: float, peak: float = 0.95) -> tuple[np.ndarray, float]:
    """ITU-R BS.1770 integrated loudness to target_lufs (pyloudnorm); clips shorter than its 400 ms
    block fall back to RMS. The peak is then limited so the gain never clips. Returns (y, measured)."""
    measured = float("-inf")
    if len(y) >= int(0.4 * sr):
        import pyloudnorm

        measured = float(pyloudnorm.Meter(sr).integrated_loudness(y.astype(np.float64)))
    if not np.isfinite(measured):
        measured = rms_dbfs(y) - 0.691 + 3.0  # ~LUFS of a mono signal from its RMS (K-weighting ignored)
    out = y * (10 ** ((target_lufs - measured) / 20))
    top = float(np.abs(out).max()) if out.size else 0.0
    if top > peak:
        out = out * (peak / top)
    return out.astype(np.float32), measured
