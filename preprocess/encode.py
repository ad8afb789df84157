"""Pre-encoding for any modality: curated shards in, encoded shards (latent or VAE moments, text
features, per-frame conditioning) and their batch files out, through a Ray Data actor pool that
holds one latent and one text encoder per actor.

The modality's plugin turns curated members into the encoder's input [C, T, H, W]; the encoders
know nothing of modalities. Encoded shards look the same for every modality (contracts/members).
"""

from __future__ import annotations

import dataclasses

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contracts.config import check_ranges
from contracts.hold_points import hold_point
from contracts.keys import sample_key
from contracts.layout import Workspace
from contracts.members import CAP_FEATS, CAP_MASK, CAPTION, FRAME_COND, LATENT, META, MOMENTS, POOLED, member
from contracts.records import Batch, EncodingRecord
from contracts.shards import DamagedCuratedShard, iter_samples, npy_bytes, shard_damage, write_tar
from preprocess.modality import get_plugin
from preprocess.runner import run_stage
from preprocess.stage import Resources, Stage


@dataclass
class EncodeConfig:
    latent: str = "identity"  # identity | sd15 | sdxl
    vae: str | None = None  # local diffusers folder or single .safetensors file (sd15, sdxl)
    text: str | None = None  # minilm | clip | llama | phone; default: phone for speech, minilm for the others
    text_path: str | None = None  # local folder or checkpoint (clip, llama; minilm: instead of the packaged one)
    text_layer: int = -1  # hidden layer of the text encoder (-2: penultimate, as Lumina-Next)
    max_tokens: int | None = None  # caption tokens (default: the encoder's own)
    batch_size: int = 64  # samples per encoder call
    num_actors: int = 1  # encoder actors in the pool
    gpus_per_actor: float = 0.0  # declare GPUs to use them (never guessed)

    def __post_init__(self) -> None:
        from encoders.local_model import user_model_path  # torch-free
        from encoders.names import LATENT_ENCODERS, TEXT_ENCODERS  # torch-free: the registries' names

        # absolute, ~ expanded, a hub cache folder's snapshot: the paths are recorded (encoder.json, the run's
        # details) and read again from other folders (lumina sample), and YAML's ~ reaches no shell
        self.vae = user_model_path(self.vae) if self.vae else self.vae
        self.text_path = user_model_path(self.text_path) if self.text_path else self.text_path
        if self.latent not in LATENT_ENCODERS:
            raise ValueError(f"unknown latent encoder {self.latent!r}: choose from {', '.join(LATENT_ENCODERS)}")
        if self.text is not None and self.text not in TEXT_ENCODERS:
            raise ValueError(f"unknown text encoder {self.text!r}: choose from {', '.join(TEXT_ENCODERS)}")
        if self.latent != "identity" and not self.vae:
            raise ValueError(f"--latent {self.latent} needs --vae PATH (a local diffusers folder or .safetensors file; nothing is downloaded)")
        # a path the chosen encoder never reads: the user meant another encoder (and would get this one silently)
        if self.latent == "identity" and self.vae:
            raise ValueError(f"--vae {self.vae} is for --latent sd15 or sdxl; identity latents use no VAE")
        if self.text_path and self.text == "phone":
            raise ValueError(f"--text-path {self.text_path} is for --text minilm, clip or llama; the phone encoder reads no path")
        check_ranges(self, batch_size=">= 1", num_actors=">= 1", gpus_per_actor=">= 0 and finite")
        if self.max_tokens is not None:  # the text encoder refuses it too, but only once Ray and the encoders had started
            check_ranges(self, max_tokens=">= 1")

    def check_paths(self, modality: str | None = None) -> None:
        """Before a run opens: one line for a path that holds no model of the kind asked (no weights read).
        ``modality``: whose default text encoder a config without ``text`` gets, for the layer check."""
        from encoders.path_checks import check_llm_path, check_minilm_path, check_vae_path  # torch-free: refused before it loads

        if self.latent != "identity":
            check_vae_path(self.vae)
        if self.text in ("clip", "llama") and not self.text_path:
            raise ValueError(f"--text {self.text} needs --text-path PATH (a local folder; nothing is downloaded)")
        if self.text == "clip":
            from encoders.clip import check_clip_path

            check_clip_path(self.text_path)
        elif self.text == "llama":
            check_llm_path(self.text_path)
        elif self.text == "minilm" and self.text_path:  # another model under MiniLM's name, refused before a run opens
            check_minilm_path(self.text_path)
        self.check_text_layer(modality)

    def check_text_layer(self, modality: str | None = None) -> None:
        """--text-layer out of the model's range, refused from its config files before Ray starts (the
        encoder refused it in the actors, after the cluster and the model had loaded). Without ``text``,
        the modality's default encoder's (none known without a modality: --text-layer -7 with no --text
        went to the actors)."""
        from encoders.path_checks import check_layer, check_phone_layer, text_layers

        text = self.text or (default_text_encoder(modality) if modality else None)
        if text == "phone":
            check_phone_layer(self.text_layer)
        if text is not None and (layers := text_layers(text, self.text_path)) is not None:
            check_layer({"minilm": "all-MiniLM-L6-v2"}.get(text, text), self.text_layer, layers)  # as the encoder names itself


def default_text_encoder(modality: str) -> str:
    """The modality's own choice (its plugin's ``text_encoder``)."""
    return get_plugin(modality).text_encoder


def encoder_record(encoder, kind: str) -> dict:
    info = encoder.describe()
    if kind == "latent":
        info.update(scale=float(encoder.scale), shift=float(getattr(encoder, "shift", 0.0)), stochastic=bool(encoder.stochastic),
                    latent_channels=int(getattr(encoder, "latent_channels", 0)), downsample=int(getattr(encoder, "downsample", 1)))
    else:
        info.update(dim=int(encoder.dim))
    info["kind"] = kind
    return info


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{os.getpid()}.{path.name}")  # several actors may race here
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_encoder_files(ws: Workspace, latent_encoder, text_encoder, call=None) -> None:
    """encoder.json for both encoders and the text encoder's null caption, once per fingerprint.
    ``call(fn, *args)`` runs the null caption's encoding (the stage's: with one intra-op thread on a
    CPU, as every caption, so its bytes do not depend on the thread count either)."""
    for enc, kind in ((latent_encoder, "latent"), (text_encoder, "text")):
        path = ws.encoder_info(enc.fingerprint)
        if not path.exists():
            _write_atomic(path, json.dumps(encoder_record(enc, kind), indent=1, sort_keys=True).encode())
    path = ws.null_caption(text_encoder.fingerprint)
    if not path.exists():
        import io

        t = (call or _call_here)(text_encoder.encode, [""])
        buf = io.BytesIO()
        np.savez(buf, cap_feats=t.feats[0], cap_mask=t.mask[0], pooled=t.pooled[0])
        _write_atomic(path, buf.getvalue())


def _call_here(fn, *args, **kwargs):
    return fn(*args, **kwargs)


@dataclass
class ShardEncoded:
    """What EncodeStage returns per shard (pickled, from Ray workers too): its batch file's path, what
    encoding cut off the captions (``truncated``: an encoders.text.features.Truncated, None for a
    reused shard) and the text encoder's ``text`` (name, max_length, whether a larger max_tokens reads
    more), so that `encode` says it once per run, not once per encoder batch. A path-like: open()
    and Batch.read take it as the batch file."""

    batch_path: str
    truncated: object = None
    text: tuple[str, int, bool] | None = None

    def __fspath__(self) -> str:
        return self.batch_path


class EncodeStage(Stage[str, ShardEncoded]):
    """One curated shard per call -> the encoded shard's batch file. Resumable: a complete output
    is reused, so a rerun after a crash encodes only what is missing."""

    name = "encode"
    execution = "actors"
    batch_size = 1

    def __init__(self, modality: str, home: str, cfg: EncodeConfig, latent_options: dict | None = None,
                 text_options: dict | None = None):
        self.modality, self.home, self.cfg = modality, home, cfg
        self.latent_options = latent_options or {}  # measured on the data (speech: log-mel mean and std)
        self.text_options = text_options or {}  # recorded by the curation (speech: the transcripts' language)
        self.resources = Resources(cpus=1.0, gpus=cfg.gpus_per_actor)
        self.device = "cuda" if cfg.gpus_per_actor > 0 else "cpu"  # declared, never guessed
        self.latent_encoder = self.text_encoder = None
        self.bytes_per_call: int | None = None  # memory one encoder batch took (measured on the first)

    def setup(self) -> None:
        if self.latent_encoder is not None:
            return
        from encoders.latent import load_latent_encoder
        from encoders.text import load_text_encoder

        self.latent_encoder = load_latent_encoder(self.cfg.latent, self.cfg.vae, device=self.device, **self.latent_options)
        self.text_encoder = load_text_encoder(self.cfg.text, self.cfg.text_path, layer=self.cfg.text_layer,
                                              max_tokens=self.cfg.max_tokens, device=self.device, **self.text_options)
        write_encoder_files(Workspace.at(self.home), self.latent_encoder, self.text_encoder, self._call)

    def _map(self, fn, items: list) -> list:
        """[fn(x) for x in items]. On a CPU each call runs with one intra-op thread, as many at once as
        torch has threads here (every core under --local, one in a Ray actor): a CPU kernel's sums
        depend on its thread count, and so did the encoded shards' bytes (encoders/threads.py). The
        first batch of the stage runs alone, its memory measured: no more batches run at once than
        half the available memory holds (encoders.threads.affordable_workers)."""
        if self.device != "cpu":
            return [fn(x) for x in items]
        from encoders.threads import PeakRss, affordable_workers, cpu_workers, one_thread_map

        wanted = cpu_workers(self.device)
        if wanted > 1 and self.bytes_per_call is None and len(items) > 1:
            # the first batch alone, to learn how many fit in memory at once (each used every core before)
            with PeakRss() as peak:
                first = one_thread_map(fn, items[:1], 1)
            self.bytes_per_call = peak.grown
            return first + one_thread_map(fn, items[1:], affordable_workers(wanted, self.bytes_per_call))
        if wanted > 1 and self.bytes_per_call is not None:
            wanted = affordable_workers(wanted, self.bytes_per_call)
        return one_thread_map(fn, items, wanted)

    def _call(self, fn, *args, **kwargs):
        return self._map(lambda _: fn(*args, **kwargs), [None])[0]

    def details(self) -> dict:
        return {"latent": self.cfg.latent, "text": self.cfg.text, "vae": self.cfg.vae, "text_path": self.cfg.text_path}

    def process(self, batch: list[str]) -> list[ShardEncoded]:
        out = []
        for uri in batch:
            batch_file, truncated = self._encode_shard(uri)
            txt = self.text_encoder
            from encoders.text.features import reads_more

            text = (txt.name, int(txt.max_length), reads_more(txt)) if truncated is not None else None
            out.append(ShardEncoded(str(Batch.path_beside(batch_file.shard.uri)), truncated, text))
        return out

    def encode_shard(self, curated_uri: str) -> Batch:
        return self._encode_shard(curated_uri)[0]

    def _encode_shard(self, curated_uri: str):
        """(the encoded shard's Batch, the Truncated of its captions; None when a complete output was reused)."""
        from encoders.text.features import Truncated
        from encoders.threads import Serialised, check_stop

        plugin = get_plugin(self.modality)
        lat, txt = self.latent_encoder, self.text_encoder
        out_dir = Workspace.at(self.home).encoded(self.modality)
        name = "encoded-" + sample_key(Path(curated_uri).name, lat.fingerprint, txt.fingerprint)[:16] + ".tar"
        batch_path = Batch.path_beside(out_dir / name)
        if batch_path.exists() and (out_dir / name).exists():
            try:
                old = Batch.read(batch_path)
            except (ValueError, TypeError, KeyError, AttributeError):  # a batch file that is no batch: both written again
                old = None
            if old is not None and shard_damage(out_dir / name, old.shard) is None:  # a complete output is reused; one cut short is written again
                return old, None
        check_curated_shards([curated_uri])  # checked before the run too; a shard damaged since is not read short either
        samples = list(iter_samples(curated_uri))
        shard_uri = str((out_dir / name).resolve())
        latent_field = MOMENTS if lat.stochastic else LATENT
        text_calls, latent_calls = Serialised(txt), Serialised(lat)  # an encoder not thread_safe: one call at a time

        def encode_chunk(chunk) -> tuple[list, list, Truncated]:
            """One encoder batch's members and encodings (on a thread of its own, see _map), and its cut captions."""
            captions = [fields[CAPTION].decode("utf-8") for _, fields in chunk]
            check_stop()  # Ctrl-C, or an error in another batch: this one ends at its next sample, not after all of them
            text = text_calls.call(txt.encode, captions, warn_truncated=False)  # summed over the run and said once by `encode`
            members: list[tuple[str, bytes]] = []
            encodings: list[EncodingRecord] = []
            for i, (key, fields) in enumerate(chunk):
                check_stop()
                z = latent_calls.call(lat.encode, plugin.media_array(fields))
                meta = json.loads(fields.get(META, b"{}") or b"{}")
                meta.update(caption=captions[i], latent_encoder=lat.fingerprint, latent_scale=float(lat.scale),
                            latent_shift=float(getattr(lat, "shift", 0.0)), stochastic=bool(lat.stochastic), text_encoder=txt.fingerprint)
                members += [
                    (member(key, latent_field), npy_bytes(z)),
                    (member(key, CAP_FEATS), npy_bytes(text.feats[i])),
                    (member(key, CAP_MASK), npy_bytes(text.mask[i])),
                    (member(key, POOLED), npy_bytes(text.pooled[i])),
                ]
                cond = plugin.frame_cond(fields)
                if cond is not None:
                    members.append((member(key, FRAME_COND), npy_bytes(np.asarray(cond, dtype=np.float32))))
                members.append((member(key, META), json.dumps(meta, sort_keys=True).encode()))
                encodings.append(EncodingRecord(key, lat.fingerprint, "latent", list(z.shape), str(z.dtype), shard_uri, member(key, latent_field)))
                encodings.append(EncodingRecord(key, txt.fingerprint, "text", list(text.feats[i].shape), str(text.feats.dtype), shard_uri, member(key, CAP_FEATS)))
            return members, encodings, Truncated.of(text.dropped)

        chunks = [samples[start : start + self.cfg.batch_size] for start in range(0, len(samples), self.cfg.batch_size)]
        members: list[tuple[str, bytes]] = []
        encodings: list[EncodingRecord] = []
        truncated = Truncated()
        for chunk_members, chunk_encodings, chunk_truncated in self._map(encode_chunk, chunks):  # in the chunks' order
            members += chunk_members
            encodings += chunk_encodings
            truncated = truncated + chunk_truncated
        shard = write_tar(out_dir / name, members, stage="encoded", num_samples=len(samples))
        shard.source_shard = str(Path(curated_uri).resolve())  # the catalog's curated -> encoded lineage edge
        batch = Batch(shard=shard, encodings=encodings)
        batch.write(batch_path)
        hold_point("encode.shard-written")  # a shard and its batch file written, the others not (a fault test's kill)
        return batch, truncated


@dataclass
class EncodeResult:
    modality: str
    batch_paths: list[str]
    latent_encoder: str  # fingerprints
    text_encoder: str
    encoders: list[dict]  # encoder.json contents, for the catalog


def latent_options(modality: str, ws: Workspace, cfg: EncodeConfig, shard_uris: list[str]) -> dict:
    """Latent-encoder options a modality measures on its data before encoding (speech: the log-mel
    mean and std as the identity encoder's shift and scale); none for most."""
    hook = getattr(get_plugin(modality), "latent_options", None)
    return hook(ws.encoded(modality), cfg.latent, shard_uris) if hook else {}


def text_options(modality: str, cfg: EncodeConfig, shard_uris: list[str]) -> dict:
    """Text-encoder options the curation recorded (speech: the transcripts' language); none for most."""
    hook = getattr(get_plugin(modality), "text_options", None)
    return hook(cfg.text, shard_uris) if hook else {}


class DamagedBatchFile(DamagedCuratedShard):
    """A curated shard's batch file that does not parse (emptied by a power loss, cut short, edited)."""


def read_curated_batch(path: str | os.PathLike) -> Batch:
    """Batch.read of a curated shard's batch file; one that is no batch is refused in one line naming it
    (before: `lumina encode: error: Expecting value: line 1 column 1 (char 0)`, naming no file).
    `lumina curate` of its source writes the batch file again (its reuse check reads it the same way)."""
    try:
        return Batch.read(path)
    except (ValueError, TypeError, KeyError, AttributeError) as e:  # JSON, UTF-8 or fields: no batch
        why = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
        raise DamagedBatchFile(f"curated batch file {path} is damaged ({why}): run `lumina curate` on its source "
                               "again, which writes it anew, then encode") from None


def curated_shards(home: str | os.PathLike | None, modality: str) -> list[str]:
    """The modality's curated shards; of samples curated more than once (with other options: other
    shards), only the shards of their latest curation, by the time of the shards' batch files."""
    folder = Workspace.at(home).curated(modality)
    newest: dict[str, tuple[int, str]] = {}  # sample key -> (batch time, shard)
    unbatched = []  # shards written by other tools: no batch says what they hold, so they all go
    for shard in sorted(folder.glob("curated-*.tar")) if folder.is_dir() else []:
        batch = Batch.path_beside(shard)
        if not batch.exists():
            unbatched.append(str(shard))
            continue
        when = batch.stat().st_mtime_ns
        for sample in read_curated_batch(batch).samples:
            if newest.get(sample.key, (-1, ""))[0] < when:
                newest[sample.key] = (when, str(shard))
    return sorted({shard for _, shard in newest.values()} | set(unbatched))


def check_curated_shards(shard_uris: list[str]) -> None:
    """Refuse, in one line, a curated shard that is not the one its batch file describes (cut short by
    a full disk or an interrupted copy, emptied by a power loss): read as it is, it gave fewer
    encodings without a word, or a tarfile traceback. Cheap: sizes and tar headers, no member data."""
    for uri in shard_uris:
        batch = Batch.path_beside(uri)
        record = read_curated_batch(batch).shard if batch.exists() else None
        damage = shard_damage(uri, record)
        if damage is not None:
            raise DamagedCuratedShard(f"curated shard {uri} is damaged ({damage}): run `lumina curate` on its source "
                                      f"again, which writes it anew, then encode")


def shards_to_encode(home: str | os.PathLike | None, modality: str, shard_uris: list[str] | None = None) -> list[str]:
    """The shards to encode (default: every curated shard of the modality); a one-line error when
    there are none. Reads only: a mistyped --home creates nothing."""
    ws = Workspace.at(home)
    shard_uris = curated_shards(ws.home, modality) if shard_uris is None else list(shard_uris)
    if not shard_uris:
        raise ValueError(f"no curated {modality} shards under {ws.curated(modality)}: run `lumina curate` first")
    return shard_uris


def say_truncated_captions(results: list, more_tokens: str = "") -> None:
    """One line for the run: how many of the captions encoded were cut to the text encoder's tokens,
    summed over the shards (each shard's over its encoder batches). Before: one line per batch of
    --batch-size captions, ~15,600 lines for a million captions at 64."""
    said = [r for r in results if getattr(r, "truncated", None) is not None and r.truncated.cut]
    if not said:
        return
    from encoders.text.features import Truncated

    total = sum((r.truncated for r in results if getattr(r, "truncated", None) is not None), Truncated())
    name, max_length, reads_more = said[0].text
    total.say(name, max_length, f"{more_tokens} encodes more" if more_tokens and reads_more else "")


def check_latent_grid(shard_uris: list[str], cfg: EncodeConfig, modality: str) -> None:
    """Before any encoder is loaded: every accepted sample's sides must be multiples of the latent
    encoder's downsampling (a VAE refuses the rest, and the whole encode failed on the first one
    with "H and W must be multiples of 8", naming neither the sample nor the fix). Samples fitted
    for another downsampling (curate --vae-factor, in their meta's latent_factor) are told to be
    curated again for this one. Reads the shards' batch files only."""
    from encoders.latent import latent_downsample

    factor = latent_downsample(cfg.latent, cfg.vae)
    if factor == 1:
        return
    bad: dict[int | None, list] = {}
    for shard in shard_uris:
        batch = Batch.path_beside(shard)
        if not batch.exists():  # a shard another tool wrote: nothing says what it holds
            continue
        for s in read_curated_batch(batch).samples:
            if s.status == "accepted" and s.width and s.height and (s.width % factor or s.height % factor):
                bad.setdefault((s.meta or {}).get("latent_factor"), []).append(s)
    if not bad:
        return
    n = sum(len(v) for v in bad.values())
    fitted, samples = max(bad.items(), key=lambda kv: len(kv[1]))
    eg = samples[0]
    what = f"--latent {cfg.latent} ({cfg.vae}) downsamples {factor}x"
    example = f"e.g. {eg.source_uri}, {eg.width}x{eg.height}"
    one = n == 1  # "1 curated multiview samples have sides ..." read wrong
    counted = f"{n} curated {modality} sample{'' if one else 's'}"
    if fitted is not None and fitted != factor:
        raise ValueError(f"{counted} {'was' if one else 'were'} curated for latents downsampled {fitted}x (curate --vae-factor "
                         f"{fitted}), but {what}: {'its' if one else 'their'} sides are not multiples of {factor} ({example}); "
                         f"curate the source again with --vae-factor {factor}")
    raise ValueError(f"{counted} {'has' if one else 'have'} sides that are not multiples of {factor}, which {what} needs "
                     f"({example}); curate the source again with --vae-factor {factor}{_size_hint(modality, factor)}")


def _size_hint(modality: str, factor: int) -> str:
    """How the modality's curation options make sides a multiple of ``factor`` besides --vae-factor: an
    image's --resize square (every modality was told of it, though only image has it: lumina curate
    --modality multiview --resize square ends 'unknown option(s) resize'), a fixed ``size`` option (multi-view's views)."""
    fields = {f.name for f in dataclasses.fields(get_plugin(modality).options_cls)}
    if "resize" in fields:
        return f" (or --resize square with a size that is a multiple of {factor})"
    if "size" in fields:
        return f" and options.size a multiple of {factor} (--set options.size=N)"
    return ""


def encode(home: str | os.PathLike | None, modality: str = "image", cfg: EncodeConfig | None = None,
           shard_uris: list[str] | None = None, backend: str = "ray", checked: bool = False,
           more_tokens: str = "") -> EncodeResult:
    """Encode curated shards (default: every curated shard of the modality in the workspace).
    ``checked``: the caller ran check_latent_grid and check_curated_shards on these shards already.
    ``more_tokens``: how the caller's user reads more caption tokens (lumina encode: its --max-tokens),
    said after the one line on cut captions where the encoder could; "" says nothing (under lumina
    refresh, --max-tokens is the image token budget)."""
    cfg = cfg or EncodeConfig()
    if cfg.text is None:  # speech is conditioned on phonemes, the others on a sentence encoder
        cfg = dataclasses.replace(cfg, text=default_text_encoder(modality))
    cfg.check_text_layer()  # the default encoder's layers too: before Ray and the encoders start
    ws = Workspace.at(home)
    shard_uris = shards_to_encode(ws.home, modality, shard_uris)
    if not checked:  # before any encoder is loaded
        check_latent_grid(shard_uris, cfg, modality)
        check_curated_shards(shard_uris)
    ws.encoded(modality).mkdir(parents=True, exist_ok=True)
    stage = EncodeStage(modality, str(ws.home), cfg, latent_options(modality, ws, cfg, shard_uris),
                        text_options(modality, cfg, shard_uris))
    results = run_stage(stage, shard_uris, backend, num_actors=cfg.num_actors, desc=f"{modality}: encode shards")
    say_truncated_captions(results, more_tokens)
    batch_paths = [r.batch_path for r in results]
    first = {e.kind: e.encoder_fingerprint for e in Batch.read(batch_paths[0]).encodings}
    infos = [json.loads(ws.encoder_info(first[k]).read_text()) for k in ("latent", "text")]
    return EncodeResult(modality, sorted(batch_paths), first["latent"], first["text"], infos)
