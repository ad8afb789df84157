"""Flag-DiT (Lumina-T2X) and its flow-matching transport. See modelzoo/README.md."""

from .config import CONFIGS, FlagDiTConfig, QKNorm, RopeKind, get_config
from .flag_dit import FlagDiT
from .rope import Extrapolation, NTKFormula, RopeScaling
from .transport import (
    Composition, FlowMatching, Solver, TimestepSampling, compose_captions, guided_velocity, integrate,
    interpolate, normalize_per_channel, sample, time_shift,
)

__all__ = [
    "FlagDiT", "FlagDiTConfig", "get_config", "CONFIGS", "QKNorm", "RopeKind",
    "Extrapolation", "RopeScaling", "NTKFormula",
    "FlowMatching", "TimestepSampling", "sample", "Solver", "integrate", "interpolate", "time_shift",
    "Composition", "compose_captions", "guided_velocity", "normalize_per_channel",
]
