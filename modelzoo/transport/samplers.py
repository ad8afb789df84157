"""ODE integrators for dx/dt = v(x, t) on a grid of times (fixed step) or adaptively (dopri5).

An integrator is a function (velocity, x, times, ...) -> x at times[-1]; velocity(x, t) takes a
flat state and a scalar time tensor.
"""

from __future__ import annotations

import enum
from typing import Callable

import torch

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Solver(str, enum.Enum):
    EULER = "euler"
    MIDPOINT = "midpoint"
    RK4 = "rk4"
    DOPRI5 = "dopri5"  # adaptive Dormand-Prince 5(4), from torchdiffeq

    @classmethod
    def _missing_(cls, value):  # Enum's own "'heun' is not a valid Solver" named none of the solvers
        raise ValueError(f"{value!r} is not a solver: choose from {', '.join(s.value for s in cls)}")


MODEL_EVALS_PER_STEP = {Solver.EULER: 1, Solver.MIDPOINT: 2, Solver.RK4: 4}  # dopri5 adapts its steps: not known ahead


def euler_step(v: Velocity, x: torch.Tensor, t: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    return x + dt * v(x, t)


def midpoint_step(v: Velocity, x: torch.Tensor, t: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    k1 = v(x, t)
    return x + dt * v(x + 0.5 * dt * k1, t + 0.5 * dt)


def rk4_step(v: Velocity, x: torch.Tensor, t: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    k1 = v(x, t)
    k2 = v(x + 0.5 * dt * k1, t + 0.5 * dt)
    k3 = v(x + 0.5 * dt * k2, t + 0.5 * dt)
    k4 = v(x + dt * k3, t + dt)
    return x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


FIXED_STEPS = {Solver.EULER: euler_step, Solver.MIDPOINT: midpoint_step, Solver.RK4: rk4_step}


def integrate(velocity: Velocity, x: torch.Tensor, times: torch.Tensor, solver: Solver | str = Solver.EULER,
              atol: float = 1e-6, rtol: float = 1e-3) -> torch.Tensor:
    """Solve from times[0] to times[-1]. Fixed-step solvers step on the given grid; dopri5 uses
    only its end points and chooses its own steps (a time reparametrisation cannot change the
    exact solution, so a shifted grid is moot there)."""
    solver = Solver(solver)
    times = times.to(x.device, torch.float32)
    if solver is Solver.DOPRI5:
        from torchdiffeq import odeint

        ends = times[[0, -1]]
        return odeint(lambda t, y: velocity(y, t), x, ends, method="dopri5", atol=atol, rtol=rtol)[-1]
    step = FIXED_STEPS[solver]
    for t0, t1 in zip(times[:-1], times[1:]):
        x = step(velocity, x, t0, t1 - t0)
    return x
