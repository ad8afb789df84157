"""lumina convert: public Lumina-T2X Flag-DiT checkpoints to this project's format and back.

    lumina convert CKPT OUT_DIR [--patch-size 2] [--n-heads N] [--dtype keep|fp32|bf16] [--force]
        CKPT: a public checkpoint (.pth / .safetensors file, or the folder holding
        consolidated.00-of-01.pth); OUT_DIR gets config.json + model.safetensors
        (load with FlagDiT.from_pretrained(OUT_DIR)).
    lumina convert MODEL_DIR OUT_FILE --to-official [--no-learn-sigma] [--force]
        MODEL_DIR: one of our folders; OUT_FILE: .pth or .safetensors in the public layout.

The key and layout mapping is documented in modelzoo/official.py and modelzoo/README.md.
"""

from __future__ import annotations

import argparse
import sys

from contracts.config import ArgumentParser

# --dtype: the torch dtype's name (torch is imported once the arguments are checked)
DTYPES = {"keep": None, "fp32": "float32", "bf16": "bfloat16"}


def dtype_of(name: str):
    """--dtype NAME as a torch dtype (None: keep the checkpoint's)."""
    import torch

    return None if DTYPES[name] is None else getattr(torch, DTYPES[name])


def parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="lumina convert", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", help="public checkpoint (file or folder), or our model folder with --to-official")
    p.add_argument("dst", help="our model folder to write, or the official file with --to-official")
    p.add_argument("--to-official", action="store_true", help="write the public layout instead")
    p.add_argument("--patch-size", type=int, default=2, help="patch side of the public model (T2I: 2)")
    p.add_argument("--n-heads", type=int, default=None,
                   help="attention heads; read from the gates of text models, required for class models")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="keep", help="dtype of the written weights")
    p.add_argument("--no-learn-sigma", action="store_true",
                   help="--to-official: write C output channels, not the public default 2C (zero sigma half)")
    p.add_argument("--force", action="store_true", help="write over an existing OUT_DIR or OUT_FILE")
    return p


def existing_output(dst: str, to_official: bool) -> str | None:
    """Why writing ``dst`` would damage something: a trained checkpoint folder keeps its
    training.json, encoders and resume state beside new weights, which then sample as that run."""
    from pathlib import Path

    out = Path(dst)
    if to_official:
        return f"{dst} exists" if out.exists() else None
    if out.is_file():
        return f"{dst} is a file, not a folder"
    if out.is_dir() and any(out.iterdir()):
        return f"{dst} is not empty (its other files would stay beside the new weights)"
    return None


def main(argv: list[str] | None = None) -> int:
    from pathlib import Path

    args = parser().parse_args(argv)
    if not args.force and (why := existing_output(args.dst, args.to_official)):
        print(f"lumina convert: error: {why}; choose another output or give --force", file=sys.stderr)
        return 2

    if args.to_official and not (Path(args.src) / "config.json").is_file():  # a public checkpoint, or a typo
        print(f"lumina convert: error: {args.src} is not one of our Flag-DiT model folders (no config.json): "
              "--to-official writes ours in the public layout; to read a public checkpoint, leave --to-official out",
              file=sys.stderr)
        return 2
    from .flag_dit import FlagDiT  # torch, once the arguments are checked

    try:
        if args.to_official:
            model = FlagDiT.from_pretrained(args.src, dtype=dtype_of(args.dtype))
            Path(args.dst).parent.mkdir(parents=True, exist_ok=True)  # as save_pretrained makes its folder
            model.save_official(args.dst, learn_sigma=not args.no_learn_sigma)
        else:
            model = FlagDiT.from_official(args.src, patch_size=args.patch_size, n_heads=args.n_heads,
                                          dtype=dtype_of(args.dtype))
            model.save_pretrained(args.dst)
    except KeyError as err:  # a readable state dict without a weight the layout needs
        what = "one of our Flag-DiT model folders" if args.to_official else "a Lumina-T2X Flag-DiT checkpoint"
        print(f"lumina convert: error: {args.src} is not {what} (no weight {err})", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as err:
        print(f"lumina convert: error: {err}", file=sys.stderr)
        return 2
    cfg = model.config
    if not args.to_official:  # which of a folder's files (the *ema* ones when present)
        from .official import official_files

        print(f"read {', '.join(str(f) for f in official_files(args.src))}")
    count = lambda n, one, many: f"{n} {one if n == 1 else many}"  # noqa: E731  "1 layer", "2 heads"
    print(f"wrote {args.dst}: dim {cfg.dim}, {count(cfg.n_layers, 'layer', 'layers')}, {count(cfg.n_heads, 'head', 'heads')}, "
          f"cap_dim {cfg.cap_dim}, {count(cfg.num_classes, 'class', 'classes')}, {model.parameter_count() / 1e6:.1f}M parameters")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
