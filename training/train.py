"""Command line for the trainer: `python -m training.train` or `torchrun -m training.train`."""

from __future__ import annotations

import argparse
import json

from training.trainer import TrainConfig, train


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Train a Flag-DiT with flow matching on a catalog manifest.")
    p.add_argument("--catalog", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--manifest-version", type=int)
    p.add_argument("--null-caption", required=True, help=".npz of the text encoder's features for the empty caption")
    p.add_argument("--out", required=True, help="output directory for checkpoints")
    p.add_argument("--model", default=TrainConfig.model)
    p.add_argument("--model-overrides", default="{}", help='JSON, e.g. {"dim": 256, "n_layers": 6}')
    p.add_argument("--steps", type=int, default=TrainConfig.steps)
    p.add_argument("--max-seconds", type=float)
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--lr", type=float, default=TrainConfig.lr)
    p.add_argument("--timesteps", choices=["uniform", "logit_normal"], default=TrainConfig.timesteps)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    result = train(TrainConfig(
        catalog=a.catalog, manifest=a.manifest, manifest_version=a.manifest_version, null_caption=a.null_caption,
        out_dir=a.out, model=a.model, model_overrides=json.loads(a.model_overrides), steps=a.steps,
        max_seconds=a.max_seconds, batch_size=a.batch_size, lr=a.lr, timesteps=a.timesteps, seed=a.seed,
    ))
    print(json.dumps({"checkpoint": result.checkpoint, "steps": result.steps, "seconds": round(result.seconds, 1), "final_loss": result.final_loss}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
