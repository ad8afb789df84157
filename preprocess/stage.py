"""The stage contract: every preprocessing step, of every modality, has this shape.

A stage declares its name, modality, resources and batch size; ``setup()`` loads what it needs once
per worker (a model, a codec); ``process()`` maps a batch of typed records in to typed records
out. The runner (preprocess/runner.py) runs any stage locally or on Ray without knowing what it
does. Resources are declared, never guessed from the machine that builds the pipeline.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, Callable, Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True)
class Resources:
    cpus: float = 1.0
    gpus: float = 0.0
    memory_gb: float | None = None

    def ray_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"num_cpus": self.cpus, "num_gpus": self.gpus}
        if self.memory_gb:
            opts["memory"] = int(self.memory_gb * 2**30)
        return opts


class Stage(ABC, Generic[In, Out]):
    """name, modality, resources, batch_size; setup() once per worker; process(batch) -> batch."""

    name: str = "stage"
    modality: str = ""
    resources: Resources = Resources()
    batch_size: int = 64
    # "tasks": stateless per-chunk CPU work (Ray tasks); "actors": a model held by a Ray Data actor pool
    execution: str = "tasks"

    # the local runner's bar counts batches; a stage whose batches take long (the shard writer's: a
    # shard of up to 512 inputs, 5-10 s of speech) counts progress_units(batch) instead and calls
    # tick(n) as it goes (None outside that runner)
    tick: Callable[[int], None] | None = None

    def progress_units(self, batch: list[In]) -> int | None:
        """Units of progress within ``batch`` (None: the batch is the unit)."""
        return None

    def setup(self) -> None:
        """Load models or codecs; called once per worker before the first process()."""

    @abstractmethod
    def process(self, batch: list[In]) -> list[Out]:
        ...

    def adopt(self, batch: list[In], results: list[Out]) -> list[Out]:
        """In the driver, the results for ``batch`` as they arrive (a Ray task's, or process()'s run
        locally), before they are kept: a stage whose results carry copies of their inputs (they came
        back from a worker) may put the driver's own objects in their place, or make them smaller to
        keep. Default: as they are."""
        return results

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "modality": self.modality, "execution": self.execution,
                "batch_size": self.batch_size, "resources": asdict(self.resources), **self.details()}

    def details(self) -> dict[str, Any]:
        """Stage-specific facts for describe(): encoders, thresholds, ..."""
        return {}
