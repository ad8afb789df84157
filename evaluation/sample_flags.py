"""What each modality's sampler adds to `lumina sample`'s flags, declared without importing the
sampler: its options (names, types, defaults, help) and its names for generic flags (--views,
--text). `lumina sample --help`, its refusals and the flag names a real sample's messages use
(flag_names, spelled, option_owners, here) read these; a real sample
imports only its checkpoint's sampler (evaluation/<m>/sample.py, named in SAMPLE_HOOKS), which may
import numpy, the encoders' helpers or torch: the help imported all of them, and a sample every
modality's.

A sampler's flags are described in ``sample_flags.py`` beside its ``sample.py`` (the module
SAMPLE_HOOKS names, with ``_flags`` added): ``FLAGS = SampleFlags(options=..., aliases=...)``,
where ``options`` is the dataclass its ModalitySampling.options names, defined there (torch- and
numpy-free; the sampler imports it from there), and ``aliases`` its ModalitySampling.aliases
(``FLAGS = SampleFlags()`` for a sampler without flags). Without that module the sampler itself is
imported for them: right, only slower. tests/cli/test_cli_imports.py checks that every description
agrees with its sampler's own, and that lumina sample --help imports no shipped sampler."""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field

from evaluation.config import SAMPLE_HOOKS


@dataclass(frozen=True)
class SampleFlags:
    """A sampler's ModalitySampling.options and .aliases, as `lumina sample`'s flags need them."""

    options: type | None = None  # a dataclass like the sampler's options: its fields become --field-name flags
    aliases: dict[str, str] = field(default_factory=dict)  # its names for generic flags: {"--views": "frames"}


NO_FLAGS = SampleFlags()


def flags_module(modality: str) -> str | None:
    """Where the modality's sampler flags are described: 'evaluation.<m>.sample_flags' beside the
    sampler SAMPLE_HOOKS names; None for a modality without a sampler hook."""
    spec = SAMPLE_HOOKS.get(modality)
    return None if spec is None else spec.partition(":")[0] + "_flags"


def sample_flags_of(modality: str) -> SampleFlags:
    """The modality's SampleFlags: its sample_flags.py's FLAGS; where it has no such module, those
    of its sampler itself (imported)."""
    name = flags_module(modality)
    if name is None:
        return NO_FLAGS
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:  # the module is there but an import inside it failed
            raise
        from evaluation.config import sampling_of

        sampling = sampling_of(modality)
        return SampleFlags(options=sampling.options, aliases=sampling.aliases)
    flags = getattr(module, "FLAGS", None)
    if not isinstance(flags, SampleFlags):
        raise ValueError(f"{name} has no FLAGS = SampleFlags(...) (evaluation/sample_flags.py)")
    return flags


def declared_sample_flags() -> dict[str, SampleFlags]:
    """Every sampler's flags, by modality, in SAMPLE_HOOKS' order."""
    return {m: sample_flags_of(m) for m in SAMPLE_HOOKS}


def flag_names(config_field: str) -> list[str]:
    """A SampleConfig field's flags: its own, then the aliases modalities give it (--frames, --views)."""
    aliases = [flag for f in declared_sample_flags().values() for flag, name in f.aliases.items() if name == config_field]
    return [f"--{config_field.replace('_', '-')}", *aliases]


def spelled(config_field: str) -> str:
    """'--prompt (or --text)': a field's flag as an error message names it."""
    first, *others = flag_names(config_field)
    return f"{first} (or {', '.join(others)})" if others else first


def option_owners() -> dict[str, str]:
    """Each modality's own sample option -> that modality."""
    return {f.name: m for m, s in declared_sample_flags().items() if s.options for f in dataclasses.fields(s.options)}
