"""`lumina`: the one console script for every user-facing command."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time

from preprocess.ray_utils import OFFLINE_ENV


def _demo(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="lumina demo", description="Run data_to_model on the embedded demo corpus (no server, no downloads).")
    p.add_argument("--home", help="workspace folder (default: $LUMINA_HOME or ./lumina_home)")
    p.add_argument("--config", help="YAML of data_to_model parameters (e.g. configs/smoke.yaml); flags override it")
    p.add_argument("--steps", type=int, help="training steps (default: the flow's)")
    p.add_argument("--num-digits", type=int, help="use only the first N digits (smaller, faster run)")
    p.add_argument("--samples-per-class", type=int)
    p.add_argument("--sample-steps", type=int, help="ODE steps when sampling for evaluation")
    p.add_argument("--model-overrides", type=json.loads, help='JSON overrides of the model config, e.g. \'{"dim": 64}\'')
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    a = p.parse_args(argv)
    from flows.data_to_model import data_to_model

    import yaml

    base = yaml.safe_load(open(a.config)) if a.config else {}
    kwargs = dict(home=a.home, train_steps=a.steps, num_digits=a.num_digits, samples_per_class=a.samples_per_class,
                  sample_steps=a.sample_steps, model_overrides=a.model_overrides)
    kwargs = {**base, **{k: v for k, v in kwargs.items() if v is not None}}
    t = time.time()
    summary = data_to_model(**kwargs)
    summary["total_s"] = round(time.time() - t, 1)
    if a.json:
        print(json.dumps(summary, indent=1, default=str))
    else:
        _print_summary(summary)
    return 0


def _print_summary(s: dict) -> None:
    m = s["metrics"]
    print("\n=== Lumina demo: data_to_model ===")
    print(f"curation          {s['curation']}")
    print(f"stage seconds     {s['timings_s']} (total {s.get('total_s')} s)")
    print(f"train             {s['train_steps']} steps, final train loss {s['final_train_loss']:.4f}")
    print(f"held-out FM loss  {m['heldout_fm_loss']:.4f}")
    if "class_accuracy" in m:
        print(f"class accuracy    {m['class_accuracy']:.1%} of {int(m['num_generated'])} generated digits "
              f"(judge's own test accuracy {m['judge_test_accuracy']:.1%}, chance {m['chance_accuracy']:.1%})")
    print(f"checkpoint        {s['checkpoint']}")
    print(f"sample grid       {s['grid']}")
    print(f"catalog           {s['catalog']}")
    print("try               lumina catalog sql \"SELECT status, count(*) FROM samples GROUP BY status\"")


def _delegate(module: str):
    """Another package's own `main(argv)`, imported only when its command runs."""
    return lambda argv: importlib.import_module(module).main(argv)


COMMANDS = {
    "demo": ("run the end-to-end demo flow", _demo),
    "catalog": ("query and manage the catalog (sql, stats, why, manifest, export)", _delegate("catalog.cli")),
    "train": ("train a Flag-DiT on a manifest (also: python -m training.train)", _delegate("training.train")),
}


def main(argv: list[str] | None = None) -> int:
    for k, v in OFFLINE_ENV.items():
        os.environ.setdefault(k, v)
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: lumina COMMAND [ARGS]\n\ncommands:")
        for name, (doc, _) in COMMANDS.items():
            print(f"  {name:10s} {doc}")
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nlumina: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    return COMMANDS[argv[0]][1](argv[1:]) or 0


if __name__ == "__main__":
    raise SystemExit(main())
