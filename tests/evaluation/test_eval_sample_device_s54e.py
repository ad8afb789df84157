"""`lumina evaluate` and `lumina sample` ran on the CPU on a machine with a GPU: the model loaded on
FlagDiT.from_pretrained's default cpu and nothing moved it. They now take --device (auto: cuda when
torch sees a GPU, as lumina train; else cpu): the model, the noise (drawn on the CPU, so a seed draws
the same on any device), the captions and frame conditioning, the text encoder and the VAE go there,
and the samples come back to the CPU. A device this machine lacks is one line naming the flag,
before any work."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

import encoders.device
from evaluation.config import EvalConfig, SampleConfig
from flows.cli import main

MAKERS = {"sample": lambda **k: SampleConfig(checkpoint="c", prompt="p", **k),
          "evaluate": lambda **k: EvalConfig(manifest="m", checkpoint="c", **k)}


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_the_flag_is_in_the_help(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--device DEVICE" in help_text and "auto (cuda when torch sees a GPU" in help_text and "(default: auto)" in help_text


def test_auto_is_cpu_without_a_gpu_and_cuda_with_one(no_gpu, monkeypatch):
    assert encoders.device.usable_device("auto") == "cpu" and encoders.device.usable_device(None) == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert encoders.device.usable_device("auto") == "cuda"


@pytest.mark.parametrize("make", MAKERS.values(), ids=MAKERS)
@pytest.mark.parametrize("device, said", [
    ("gpu", r"^--device 'gpu' is not a device: choose from auto, cpu, cuda or cuda:N \(default: auto, cuda when torch sees "
            r"a GPU, else cpu\)$"),
    ("xpu:9", r"^--device 'xpu:9' is not a device: choose from auto, cpu, cuda or cuda:N"),
    ("cuda", r"^--device cuda: torch sees no CUDA GPU on this machine: leave --device out \(auto: cuda when torch "
             r"sees a GPU, else cpu\) or give --device cpu$"),
    ("cuda:1", r"^--device cuda:1: torch sees no CUDA GPU on this machine"),
])
def test_a_device_this_machine_lacks_is_refused_by_the_config(make, device, said, no_gpu):
    with pytest.raises(ValueError, match=said):
        make(device=device)


def test_a_cuda_index_past_the_gpus_names_them(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert encoders.device.usable_device("cuda:1") == "cuda:1"
    with pytest.raises(ValueError, match=r"^--device cuda:2: torch sees 2 CUDA GPUs here \(cuda:0, cuda:1\)$"):
        SampleConfig(checkpoint="c", prompt="p", device="cuda:2")


@pytest.mark.parametrize("command, args", [("sample", ["--prompt", "a"]), ("evaluate", ["--manifest", "m"])])
def test_the_command_says_it_in_one_line_before_any_work(command, args, tmp_path, capsys, no_gpu):
    home = tmp_path / "home"
    assert main([command, "--home", str(home), "--checkpoint", str(tmp_path), *args, "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"lumina {command}: error: --device cuda: torch sees no CUDA GPU"), err
    assert not home.exists()  # no catalog, no run recorded


def test_sample_with_device_cpu_is_sampling_as_before(tiny_checkpoint, tmp_path, no_gpu):
    from evaluation.sample import sample_to_files

    def png(**k):
        [path] = sample_to_files(SampleConfig(checkpoint=str(tiny_checkpoint), prompt="digit 3", steps=2, seed=3, **k,
                                              out=str(tmp_path / f"{k.get('device', 'auto')}.png")))
        return path.read_bytes()

    assert png(device="cpu") == png()


class Devices:
    """Where each tensor a spied-on call was given lies: name -> device type."""

    def __init__(self):
        self.seen: dict[str, set[str]] = {}

    def note(self, name: str, value) -> None:
        if isinstance(value, torch.Tensor):
            self.seen.setdefault(name, set()).add(value.device.type)
        elif isinstance(value, (list, tuple)):
            for v in value:
                self.note(name, v)
        elif isinstance(value, dict):
            for k, v in value.items():
                self.note(f"{name}.{k}", v)

    def model(self, model) -> None:
        self.note("model", list(model.parameters()) + list(model.buffers()))


@pytest.fixture
def on_meta(monkeypatch):
    """The resolved device is meta (a device no tensor of the CPU is on); modelzoo.sample records
    where its model and inputs are and gives zeros on the CPU."""
    import modelzoo

    monkeypatch.setattr(encoders.device, "usable_device", lambda device, flag="--device": "meta")
    devices = Devices()

    def sample(model, noise, cond=None, uncond=None, **kwargs):
        devices.model(model)
        devices.note("noise", noise)
        devices.note("cond", cond)
        devices.note("uncond", uncond)
        return torch.zeros(noise.shape) if isinstance(noise, torch.Tensor) else [torch.zeros(n.shape) for n in noise]

    monkeypatch.setattr(modelzoo, "sample", sample)
    return devices


def test_sample_puts_the_model_and_every_input_on_the_device(tiny_checkpoint, tmp_path, on_meta, monkeypatch):
    import encoders.text
    import evaluation.evaluate as ev
    from evaluation.sample import sample_to_files

    text_load, decoder_load = encoders.text.load_text_encoder, ev.load_decoder
    monkeypatch.setattr(encoders.text, "load_text_encoder",
                        lambda *a, device=None, **k: on_meta.note(f"text encoder on {device}", torch.empty(0)) or text_load(*a, **k))
    monkeypatch.setattr(ev, "load_decoder", lambda ckpt, vae=None, device=None: on_meta.note(f"decoder on {device}", torch.empty(0))
                        or decoder_load(ckpt, vae))
    sample_to_files(SampleConfig(checkpoint=str(tiny_checkpoint), prompt="digit 3", out=str(tmp_path / "s.png"), steps=1))
    assert on_meta.seen == {"text encoder on meta": {"cpu"}, "decoder on meta": {"cpu"}, "model": {"meta"}, "noise": {"meta"},
                            "cond.cap_feats": {"meta"}, "cond.cap_mask": {"meta"}, "uncond.cap_feats": {"meta"},
                            "uncond.cap_mask": {"meta"}}


def test_evaluation_samples_with_every_input_on_the_device(on_meta):
    from evaluation.sampling import generate
    from training.data import Example, NullCaption

    def example(i):
        return Example(f"k{i}", torch.zeros(3, 2, 4, 4), torch.zeros(5, 8), torch.ones(5, dtype=torch.bool), "a", "holdout",
                       frame_cond=torch.zeros(2, 12))

    model = torch.nn.Linear(2, 2, device="meta")
    cfg = SimpleNamespace(batch_size=2, solver="euler", steps=1, shift=1.0, cfg_scale=4.0)
    out = generate(model, NullCaption(torch.zeros(5, 8), torch.ones(5, dtype=torch.bool)), [example(i) for i in range(3)],
                   cfg, seed=0, device="meta")
    assert out.device.type == "cpu" and out.shape == (3, 3, 2, 4, 4)
    assert on_meta.seen == {"model": {"meta"}, "noise": {"meta"}, "cond.cap_feats": {"meta"}, "cond.cap_mask": {"meta"},
                            "cond.frame_cond": {"meta"}, "uncond.cap_feats": {"meta"}, "uncond.cap_mask": {"meta"},
                            "uncond.frame_cond": {"meta"}}


def test_evaluate_puts_the_model_the_loss_inputs_and_the_decoder_on_the_device(tiny_home, tiny_checkpoint, tmp_path, on_meta,
                                                                               monkeypatch):
    import evaluation.evaluate as ev
    from modelzoo import FlowMatching

    def training_loss(self, model, x1, **kwargs):
        on_meta.model(model)
        on_meta.note("x1", x1)
        for k, v in kwargs.items():
            on_meta.note(k, v)
        return torch.tensor(1.0)

    def evaluate_modality(ctx):
        ctx.generate(ctx.examples[:2], seed=0)
        return {}, {}

    decoder_load = ev.load_decoder
    monkeypatch.setattr(FlowMatching, "training_loss", training_loss)
    monkeypatch.setattr(ev, "modality_hook", lambda *a: evaluate_modality)
    monkeypatch.setattr(ev, "load_decoder", lambda ckpt, vae=None, device=None: on_meta.note(f"decoder on {device}", torch.empty(0))
                        or decoder_load(ckpt, vae))
    ev.evaluate(EvalConfig(manifest=tiny_home.holdout_manifest, checkpoint=str(tiny_checkpoint), catalog=tiny_home.catalog,
                           out_dir=str(tmp_path / "eval"), max_heldout=4))
    assert on_meta.seen == {"model": {"meta"}, "x1": {"meta"}, "t": {"meta"}, "x0": {"meta"}, "cap_feats": {"meta"},
                            "cap_mask": {"meta"}, "decoder on meta": {"cpu"}, "noise": {"meta"}, "cond.cap_feats": {"meta"},
                            "cond.cap_mask": {"meta"}, "uncond.cap_feats": {"meta"}, "uncond.cap_mask": {"meta"}}
