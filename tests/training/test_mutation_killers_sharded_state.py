"""An FSDP2 run's resume state written shard by shard (training/sharded_state.py), in one process on a
plain model: the round trip continues bit for bit, each block gets a file of its own, the EMA weights
are published whole from the pieces on disk, and `read_whole` puts every tensor together."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from training.sharded_state import (SHARDED_DIR, file_per_block, is_sharded, load_sharded, publish_weights, read_whole,
                                    save_sharded)


class Tiny(torch.nn.Module):
    """Named like FlagDiT: `layers.<i>.` for the blocks, other parameters outside them."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Linear(3, 4)
        self.layers = torch.nn.ModuleList([torch.nn.Linear(4, 4) for _ in range(2)])
        self.head = torch.nn.Linear(4, 2)

    def forward(self, x):
        x = self.embed(x)
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return self.head(x)


def _setup(seed: int):
    torch.manual_seed(seed)
    model = Tiny()
    ema = copy.deepcopy(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    return model, ema, opt


def _steps(model, ema, opt, n: int) -> list[float]:
    losses = []
    for _ in range(n):
        x = torch.randn(5, 3)  # from the global RNG: a resume that did not restore it differs
        loss = (model(x) - x[:, :2]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema.parameters(), model.parameters()):
                e.lerp_(p, 0.5)
        losses.append(loss.item())
    return losses


@pytest.fixture
def saved(tmp_path):
    """3 steps then a sharded save; the state after it and the 3 steps a straight run takes next."""
    model, ema, opt = _setup(0)
    torch.manual_seed(11)
    _steps(model, ema, opt, 3)
    ckpt = tmp_path / "checkpoint-0000003"
    ckpt.mkdir()
    groups = save_sharded(ckpt, model, opt, ema)
    at_save = {"model": copy.deepcopy(model.state_dict()), "ema": copy.deepcopy(ema.state_dict())}
    straight = _steps(model, ema, opt, 3)
    return ckpt, groups, at_save, straight, {k: v.clone() for k, v in model.state_dict().items()}


def test_a_sharded_save_and_load_continues_bit_for_bit(saved):
    ckpt, groups, at_save, straight, final = saved
    assert is_sharded(ckpt) and is_sharded(str(ckpt)) and not is_sharded(ckpt.parent)
    torch.manual_seed(99)  # a new process: any RNG, other initial weights
    model, ema, opt = _setup(5)
    load_sharded(ckpt, model, opt, json.loads(json.dumps(groups)), ema)  # the groups as train_state.json holds them
    for k, v in model.state_dict().items():
        assert torch.equal(v, at_save["model"][k]), k
    for k, v in ema.state_dict().items():
        assert torch.equal(v, at_save["ema"][k]), k
    assert _steps(model, ema, opt, 3) == straight
    for k, v in model.state_dict().items():
        assert torch.equal(v, final[k]), k


def test_the_param_groups_returned_are_the_optimizers_by_parameter_name(saved):
    ckpt, groups, *_ = saved
    assert len(groups) == 1 and groups[0]["lr"] == 1e-2 and groups[0]["weight_decay"] == 0.1
    assert groups[0]["params"] == ["embed.weight", "embed.bias", "layers.0.weight", "layers.0.bias", "layers.1.weight",
                                   "layers.1.bias", "head.weight", "head.bias"]


def test_each_block_has_a_file_of_its_own_and_read_whole_puts_every_part_together(saved):
    ckpt, _, at_save, *_ = saved
    files = sorted(p.name for p in (ckpt / SHARDED_DIR).glob("*.safetensors"))
    assert files == [f"shard-00001-model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    with safe_open(str(ckpt / SHARDED_DIR / files[1]), "pt") as f:  # block 0: its weights, EMA and moments only
        assert sorted(f.keys()) == sorted(
            [f"layers.0.{p}" for p in ("weight", "bias")] + [f"model.layers.0.{p}" for p in ("weight", "bias")]
            + [f"optim.layers.0.{p}.{m}" for p in ("weight", "bias") for m in ("exp_avg", "exp_avg_sq", "step")])
    whole = read_whole(ckpt)
    assert torch.equal(whole["layers.1.weight"], at_save["ema"]["layers.1.weight"])
    assert torch.equal(whole["model.head.bias"], at_save["model"]["head.bias"])
    assert whole["optim.embed.weight.exp_avg"].shape == (4, 3) and float(whole["optim.embed.weight.step"]) == 3
    assert whole["rng.torch"].dtype == torch.uint8 and whole["rng.torch"].numel() > 0


def test_file_per_block_gives_block_i_file_i_plus_2_and_the_rest_file_1():
    state = {"model": {"embed.weight": 0, "layers.0.w": 0, "layers.11.w": 0, "final_layers.0.w": 0},
             "optim": {"layers.3.w": {"exp_avg": 0, "step": 0}, "head.b": {"exp_avg": 0}},
             "rng": {"torch": 0},
             "layers.2.w": torch.zeros(1), "head.w": torch.zeros(1)}
    assert file_per_block(state) == {
        "model.embed.weight": 1, "model.layers.0.w": 2, "model.layers.11.w": 13, "model.final_layers.0.w": 1,
        "optim.layers.3.w.exp_avg": 5, "optim.layers.3.w.step": 5, "optim.head.b.exp_avg": 1,
        "rng.torch": 1, "layers.2.w": 4, "head.w": 1}


def test_the_published_weights_are_the_ema_whole_in_one_file(saved):
    ckpt, _, at_save, *_ = saved
    names = list(at_save["ema"])
    assert publish_weights(str(ckpt), names) == ckpt / "model.safetensors"
    weights = load_file(str(ckpt / "model.safetensors"))
    assert weights.keys() == at_save["ema"].keys() and all(torch.equal(weights[k], at_save["ema"][k]) for k in weights)
    assert sorted(p.name for p in ckpt.iterdir()) == ["model.safetensors", SHARDED_DIR]


def test_an_ema_parameter_named_like_a_part_of_the_state_is_refused(tmp_path):
    model, _, opt = _setup(0)
    ema = torch.nn.Module()
    ema.rng = torch.nn.Parameter(torch.zeros(1))
    with pytest.raises(ValueError, match=r"parameter names \['rng'\] clash with the training state's parts"):
        save_sharded(tmp_path, model, opt, ema)


def test_without_an_ema_only_the_training_state_is_saved(tmp_path):
    model, ema, opt = _setup(0)
    _steps(model, ema, opt, 1)
    save_sharded(tmp_path, model, opt)
    assert {k.split(".")[0] for k in read_whole(tmp_path)} == {"model", "optim", "rng"}


def _nice() -> int:
    import os
    import threading

    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_a_synchronous_save_keeps_the_training_threads_priority_a_background_write_runs_at_nice_19(tmp_path):
    """save_sharded writes from training's own thread: niced there, every later step would run at nice 19.
    async_save's writer (`_writer(..., background=True)`) runs in a thread of its own, which is niced."""
    import threading

    import torch.distributed.checkpoint as dcp

    from training.sharded_state import _state, _writer

    model, ema, opt = _setup(0)
    _steps(model, ema, opt, 1)
    before = _nice()
    assert before < 19
    save_sharded(tmp_path / "sync", model, opt, ema)
    assert _nice() == before

    seen = {}

    def background():
        state, _ = _state(model, opt, ema)
        dcp.save(state, storage_writer=_writer(tmp_path / "async", state, background=True))
        seen["nice"] = _nice()

    t = threading.Thread(target=background)
    t.start()
    t.join()
    assert seen["nice"] == 19 and _nice() == before
    assert sorted(p.name for p in (tmp_path / "async" / SHARDED_DIR).glob("*.safetensors")) == sorted(
        p.name for p in (tmp_path / "sync" / SHARDED_DIR).glob("*.safetensors"))


def test_a_sharded_state_loads_without_an_ema(saved):
    ckpt, groups, at_save, *_ = saved
    model, _, opt = _setup(5)
    load_sharded(ckpt, model, opt, groups)
    for k, v in model.state_dict().items():
        assert torch.equal(v, at_save["model"][k]), k
