"""Device choice at load time, on the worker that loads the model (never on the driver that plans)."""

from __future__ import annotations

import re

AUTO = "auto"  # cuda when torch sees a GPU, else cpu (resolve_device)

# the devices a --device flag takes, those training runs on; another is refused in one line,
# torch-free (mps and xpu are not offered: the model's RoPE computes in float64, which MPS lacks)
_DEVICE = re.compile(r"(?P<kind>cpu|cuda)(?::(?P<index>\d+))?")
DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"


def resolve_device(device: str | None) -> str:
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def check_device_name(device: str, flag: str = "--device") -> None:
    """A device other than DEVICE_CHOICES (``gpu``, ``cuda:x``, ``xpu:9``) is refused without importing torch."""
    if device != AUTO and not _DEVICE.fullmatch(device):
        raise ValueError(f"{flag} {device!r} is not a device: choose from {DEVICE_CHOICES} (default: {AUTO}, cuda when "
                         f"torch sees a GPU, else cpu)")


def check_device(device: str, flag: str = "--device") -> None:
    """A config's device, checked as the config is made (before any work): a spelling torch cannot
    name, or a device other than auto and cpu (torch imported only to ask) that this machine lacks."""
    check_device_name(device, flag)
    if device not in (AUTO, "cpu"):
        usable_device(device, flag)


def usable_device(device: str | None, flag: str = "--device") -> str:
    """``device`` as torch names it, once it is known to be on this machine: auto (or None) is
    cuda when torch sees a GPU, else cpu, as training picks; a device torch does not see here
    (``cuda`` on a machine without a GPU, ``cuda:3`` on one with 2) is one line naming ``flag``,
    said before any model loads (torch's own error came at the first tensor moved there)."""
    if device in (None, "", AUTO):
        return resolve_device(None)
    check_device_name(device, flag)
    m = _DEVICE.fullmatch(device)
    kind, index = m["kind"], int(m["index"]) if m["index"] is not None else None
    if kind == "cpu":
        if index not in (None, 0):
            raise ValueError(f"{flag} {device}: there is one cpu device (cpu)")
        return "cpu"
    import torch

    seen = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if seen == 0:
        raise ValueError(f"{flag} {device}: torch sees no CUDA GPU on this machine: leave {flag} out ({AUTO}: "
                         f"cuda when torch sees a GPU, else cpu) or give {flag} cpu")
    if index is not None and index >= seen:
        raise ValueError(f"{flag} {device}: torch sees {seen} CUDA GPU{'s' if seen > 1 else ''} here "
                         f"({', '.join(f'{kind}:{i}' for i in range(seen))})")
    return device
