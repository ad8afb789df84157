"""Flow matching and the samplers, against a target whose exact velocity field is known."""

from __future__ import annotations

import pytest
import torch

from modelzoo import FlowMatching, sample, time_shift
from modelzoo.transport import guided_velocity, interpolate

from .helpers import caption, tiny

MU = torch.tensor([1.5, -2.0])
SIGMA = torch.tensor([[1.0, 0.6], [0.6, 0.8]])  # full covariance: the solvers must get rotations right


def gaussian_velocity(x: torch.Tensor, t: torch.Tensor, mu=MU, sigma=SIGMA) -> torch.Tensor:
    """E[x1 - x0 | x_t = x] for x1 ~ N(mu, sigma), x0 ~ N(0, I); x is (B, 2, 1, 1, 1)."""
    t = float(t.reshape(-1)[0])
    eye = torch.eye(2)
    cov_xt = t * t * sigma + (1 - t) ** 2 * eye
    cross = t * sigma - (1 - t) * eye
    z = x.reshape(-1, 2) - t * mu
    return (mu + z @ torch.linalg.solve(cov_xt, cross).T).reshape(x.shape)


@pytest.mark.parametrize("solver,steps,tol", [("euler", 100, 0.05), ("midpoint", 20, 0.01), ("rk4", 10, 0.005),
                                              ("dopri5", 0, 0.005)])
@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_each_solver_reaches_the_gaussian_target(solver, steps, tol, shift):
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(20000, 2, 1, 1, 1, generator=g)
    out = sample(lambda x, t: gaussian_velocity(x, t), noise, solver=solver, steps=steps or 1, shift=shift)
    flat = out.reshape(-1, 2)
    # the exact flow map of this path is x0 -> mu + sigma^(1/2) x0: compare sample by sample ...
    evals, evecs = torch.linalg.eigh(SIGMA)
    exact = MU + noise.reshape(-1, 2) @ (evecs @ torch.diag(evals.sqrt()) @ evecs.T).T
    assert (flat - exact).abs().max() < tol * 4
    # ... and in distribution
    torch.testing.assert_close(flat.mean(0), MU, atol=0.03 + tol, rtol=0)
    torch.testing.assert_close(torch.cov(flat.T), SIGMA, atol=0.04 + tol, rtol=0)


def test_time_shift_fixes_endpoints_and_moves_steps_to_the_noise_end():
    u = torch.linspace(0, 1, 11)
    for s in (0.5, 1.0, 3.0, 6.0):
        t = time_shift(u, s)
        assert t[0] == 0 and t[-1] == 1 and (t.diff() > 0).all()
    t = time_shift(u, 4.0)
    assert (t[1:-1] < u[1:-1]).all()  # every interior grid time moved towards the noise end (t = 0)
    torch.testing.assert_close(time_shift(torch.tensor([0.5]), 4.0), torch.tensor([0.2]))


def test_cfg_with_w1_equals_the_conditional_prediction():
    model = tiny(cap_dim=16)
    feats, mask = caption(2)
    null = torch.zeros(2, 3, 16), torch.ones(2, 3, dtype=torch.bool)
    x = torch.randn(2, 4, 1, 8, 8)
    t = torch.tensor(0.3)
    with torch.no_grad():
        cond_only = model(x, t.expand(2), cap_feats=feats, cap_mask=mask)
        v1 = guided_velocity(model, dict(cap_feats=feats, cap_mask=mask),
                             dict(cap_feats=null[0], cap_mask=null[1]), 1.0)(x, t)
        v4 = guided_velocity(model, dict(cap_feats=feats, cap_mask=mask),
                             dict(cap_feats=null[0], cap_mask=null[1]), 4.0)(x, t)
        uncond = model(x, t.expand(2), cap_feats=null[0], cap_mask=null[1])
    torch.testing.assert_close(v1, cond_only, rtol=1e-4, atol=1e-4)  # B vs 2B batch: summation order
    torch.testing.assert_close(v4, uncond + 4 * (cond_only - uncond), rtol=1e-4, atol=1e-4)  # all channels


def test_cfg_on_all_channels_with_labels_and_lists():
    model = tiny(num_classes=3, in_channels=4)
    x = [torch.randn(4, 1, 8, 8), torch.randn(4, 1, 4, 6)]
    with torch.no_grad():
        c = model(x, 0.5, y=torch.tensor([0, 1]))
        u = model(x, 0.5, y=torch.tensor([3, 3]))
        v = guided_velocity(model, dict(y=torch.tensor([0, 1])), dict(y=torch.tensor([3, 3])), 2.5)(x, torch.tensor(0.5))
    for vi, ci, ui in zip(v, c, u):
        torch.testing.assert_close(vi, ui + 2.5 * (ci - ui), rtol=1e-4, atol=1e-4)


class Oracle:
    """Knows the pair (x0, x1) behind x_t: predicts sign * (x1 - x0) (+ a per-sample offset)."""

    def __init__(self, x0, x1, sign: float = 1.0, offsets=None):
        self.x0, self.x1, self.sign, self.offsets = x0, x1, sign, offsets
        self.seen = None

    def __call__(self, x, t):
        self.seen = (x, t)
        if isinstance(x, torch.Tensor):
            v = self.sign * (self.x1 - self.x0)
            return v if self.offsets is None else v + self.offsets.view(-1, 1, 1, 1, 1)
        off = self.offsets if self.offsets is not None else torch.zeros(len(x))
        return [self.sign * (b - a) + o for a, b, o in zip(self.x0, self.x1, off)]


@pytest.mark.parametrize("as_list", [False, True])
def test_training_target_is_the_velocity_from_noise_to_data(as_list):
    """The true velocity x1 - x0 (t = 0 noise, t = 1 data) has zero loss, its negation a large one."""
    g = torch.Generator().manual_seed(0)
    fm = FlowMatching("uniform")
    if as_list:
        x1 = [torch.randn(2, 1, 4, 4, generator=g) + 3, torch.randn(2, 1, 8, 8, generator=g) + 3]
        x0 = [torch.randn(v.shape, generator=g) for v in x1]
    else:
        x1 = torch.randn(3, 2, 1, 4, 4, generator=g) + 3
        x0 = torch.randn(x1.shape, generator=g)
    t = torch.tensor([0.25, 0.75, 0.5])[: len(x1)]
    right = fm.training_loss(Oracle(x0, x1), x1, t=t, x0=x0)
    wrong = fm.training_loss(Oracle(x0, x1, sign=-1.0), x1, t=t, x0=x0)
    assert right < 1e-10 and wrong > 10.0  # 4 E[(x1 - x0)^2] with x1 around 3


def test_training_loss_is_mean_of_per_sample_mse():
    """Each sample weighs the same whatever its size: an offset c_i on sample i costs c_i^2."""
    fm = FlowMatching("uniform")
    x1 = [torch.randn(2, 1, 4, 4), torch.randn(2, 1, 8, 8)]
    x0 = [torch.randn_like(v) for v in x1]
    t = torch.tensor([0.25, 0.75])
    offsets = torch.tensor([1.0, 3.0])
    oracle = Oracle(x0, x1, offsets=offsets)
    torch.testing.assert_close(fm.training_loss(oracle, x1, t=t, x0=x0), offsets.square().mean())
    torch.testing.assert_close(oracle.seen[0][1], 0.75 * x1[1] + 0.25 * x0[1])  # t = 1 is data
    xt = torch.randn(2, 2, 1, 4, 4)
    per = fm.training_loss(Oracle(torch.zeros_like(xt), xt, offsets=offsets), xt, t=t, x0=torch.zeros_like(xt),
                           reduce=False)
    torch.testing.assert_close(per, offsets.square())


def test_timestep_sampling():
    g = torch.Generator().manual_seed(0)
    u = FlowMatching("uniform").sample_t(20000, generator=g)
    ln = FlowMatching("logit_normal").sample_t(20000, generator=g)
    assert 0 <= u.min() and u.max() <= 1 and abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    logits = torch.logit(ln)
    assert abs(logits.mean()) < 0.03 and abs(logits.std() - 1) < 0.03  # sigmoid(N(0, 1))
    with pytest.raises(ValueError):
        FlowMatching("logit-normal")  # strings are checked at the boundary


def test_interpolant_endpoints():
    x0, x1 = torch.randn(2, 3, 1, 2, 2), torch.randn(2, 3, 1, 2, 2)
    torch.testing.assert_close(interpolate(x0, x1, torch.zeros(2)), x0)
    torch.testing.assert_close(interpolate(x0, x1, torch.ones(2)), x1)


def test_tiny_text_model_learns_on_cpu():
    """The demo's path: a tiny text model, flow matching, AdamW: the loss must fall."""
    torch.manual_seed(0)
    model = tiny(randomize=False, cap_dim=16, in_channels=3, patch_size=4).train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    fm = FlowMatching("logit_normal")
    data = torch.rand(16, 3, 1, 16, 16) * 0.2 + torch.linspace(-1, 1, 3).view(1, 3, 1, 1, 1)
    feats, mask = caption(16)
    losses = []
    for _ in range(40):
        loss = fm.training_loss(model, data, cap_feats=feats, cap_mask=mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5
    model.eval()
    out = sample(model, torch.randn(2, 3, 1, 16, 16), cond=dict(cap_feats=feats[:2], cap_mask=mask[:2]), steps=8)
    assert out.shape == (2, 3, 1, 16, 16) and torch.isfinite(out).all()


@pytest.mark.parametrize("solver", ["euler", "midpoint", "rk4", "dopri5"])
def test_sample_keeps_the_structure_of_mixed_size_noise(solver):
    model = tiny(cap_dim=16)
    noise = [torch.randn(4, 1, 8, 8), torch.randn(4, 2, 4, 6)]
    feats, mask = caption(2)
    out = sample(model, noise, dict(cap_feats=feats, cap_mask=mask), dict(cap_feats=feats[:, :1], cap_mask=mask[:, :1]),
                 cfg_scale=2.0, solver=solver, steps=2, rtol=0.1, atol=0.1)  # adaptive dopri5: loose, only the structure is checked
    assert isinstance(out, list) and [o.shape for o in out] == [n.shape for n in noise]
    assert all(torch.isfinite(o).all() for o in out)


def test_guidance_falls_back_to_two_forwards_when_kwargs_differ():
    calls = []

    def model(x, t, **kw):
        calls.append(sorted(kw))
        return x * (2.0 if "a" in kw else 1.0)
    x = torch.ones(3, 1, 1, 2, 2)
    v = guided_velocity(model, dict(a=1), dict(b=2), 3.0)(x, torch.tensor(0.5))
    torch.testing.assert_close(v, x * (1 + 3 * (2 - 1)))
    assert calls == [["a"], ["b"]]


def test_conditioning_mismatches_fail_loudly():
    with pytest.raises(ValueError):
        tiny(num_classes=3)(torch.randn(1, 4, 1, 4, 4), 0.5, cap_feats=torch.randn(1, 2, 16), y=torch.tensor([0]))
    with pytest.raises(ValueError):
        tiny(cap_dim=16)(torch.randn(1, 4, 1, 4, 4), 0.5)
    with pytest.raises(ValueError):
        sample(lambda x, t: x, torch.randn(1, 1, 1, 1, 1), solver="heun")
