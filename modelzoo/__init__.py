"""Flag-DiT (Lumina-T2X) and its flow-matching transport. See modelzoo/README.md.

The model, RoPE and transport names load on first use (they import torch): ``modelzoo.config``, which
the trainer's options check, stays quick to import for the command lines' --help and refusals."""

import importlib

from .config import CONFIGS, FlagDiTConfig, QKNorm, RopeKind, get_config

_LAZY = {
    "FlagDiT": ".flag_dit",
    **dict.fromkeys(("Extrapolation", "NTKFormula", "RopeScaling"), ".rope"),
    **dict.fromkeys(("Composition", "FlowMatching", "Solver", "TimestepSampling", "compose_captions", "guided_velocity",
                     "integrate", "interpolate", "normalize_per_channel", "sample", "time_shift"), ".transport"),
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value  # once: later lookups (and monkeypatch) see a plain attribute
    return value


__all__ = [
    "FlagDiT", "FlagDiTConfig", "get_config", "CONFIGS", "QKNorm", "RopeKind",
    "Extrapolation", "RopeScaling", "NTKFormula",
    "FlowMatching", "TimestepSampling", "sample", "Solver", "integrate", "interpolate", "time_shift",
    "Composition", "compose_captions", "guided_velocity", "normalize_per_channel",
]
