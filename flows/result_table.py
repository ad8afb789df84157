"""How the stage commands (lumina curate, encode, train, evaluate, refresh) print their result."""

from __future__ import annotations

import json


def print_result(obj: dict, as_json: bool) -> None:
    """A stage command's result on stdout: JSON, or a table for reading."""
    if as_json:
        print(json.dumps(obj, indent=1, default=str))
        return
    # a table for reading: unset or empty fields ("stopped_by None" after a run that was not stopped,
    # "notes []") are left out, floats cut to 6 significant digits, a dict's or list's entries one per
    # line beneath its name ("metrics {'heldout_fm_loss': 0.0902025432511483, ...}" ran on for a screen); --json has it all
    shown = {k: v for k, v in obj.items() if k not in ("shard_uris", "losses") and v is not None and v != [] and v != {}}
    width = max([18, *(len(k) + 2 for k in shown)])  # a long key keeps a gap before its value
    for k, v in shown.items():
        if isinstance(v, dict):
            print(k)
            inner = max([width - 2, *(len(str(name)) + 2 for name in v)])
            for name, value in v.items():
                print(f"  {str(name):{inner}s}{readable(value)}")
        elif isinstance(v, (list, tuple)):
            print(f"{k:{width}s}{readable(v[0])}")
            for value in v[1:]:
                print(f"{'':{width}s}{readable(value)}")
        else:
            print(f"{k:{width}s}{readable(v)}")


def readable(v) -> str:
    """A value as the result table shows it: 6 significant digits for a float (11.2006, not 11.20058536529541)."""
    return f"{v:.6g}" if isinstance(v, float) else str(v)
