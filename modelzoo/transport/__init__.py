"""Flow-matching transport: the interpolant and loss, the ODE solvers, and ``sample``."""

from .flow_matching import FlowMatching, TimestepSampling, interpolate, inverse_time_shift, time_shift
from .inference import Composition, compose_captions, guided_velocity, normalize_per_channel, sample
from .samplers import Solver, integrate

__all__ = [
    "FlowMatching", "TimestepSampling", "interpolate", "time_shift", "inverse_time_shift",
    "Composition", "compose_captions", "guided_velocity", "normalize_per_channel", "sample",
    "Solver", "integrate",
]
