"""Shared fixtures: a tiny curated, encoded and registered workspace built without Ray or Prefect."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "RAY_AUTH_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)

# Compiled bytecode is kept for the test run even where the shell sets PYTHONDONTWRITEBYTECODE (this
# host does): without it each xdist worker re-did pytest's assertion rewriting of all ~540 test modules
# (collection 10.8 -> 5.7 s per worker once cached), and every `lumina`/torchrun/Ray subprocess the
# tests start compiled the project's modules again. __pycache__ is gitignored; sources are checked by
# mtime and size as always. Set here, before any test module is imported (and passed to subprocesses).
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def pytest_configure(config):
    """Which worker runs what under `make test` (tests/scheduling.py): groups that hold, module
    fixtures built once, slow tests first."""
    from tests.scheduling import register

    if os.environ.get("LUMINA_TEST_SCHEDULING", "1") != "0":  # 0: xdist's own order and groups, to compare
        register(config)


@pytest.fixture(autouse=True)
def no_log_handler_on_a_closed_stream():
    """After each test, drop the logging handlers whose stream is closed. `import prefect` configures
    Prefect's logging once per process: a console handler on the root logger (and on uvicorn, fastapi,
    prefect._internal) bound to sys.stderr as it is then. When a test imports it under capsys (an
    in-process `lumina refresh`), that is the test's capture stream, closed when the test ends, and
    every later record that reaches the root logger printed "--- Logging error ---" and a traceback
    into the next tests' stderr (tests/training/test_ray_progress.py after tests/flows/test_backend_flag.py).
    A real process has one stderr for its life; a handler on a closed stream can only print that."""
    yield
    loggers = [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    for lg in loggers:
        for h in list(lg.handlers):
            if getattr(getattr(h, "stream", None), "closed", False):
                lg.removeHandler(h)


@dataclass
class TinyHome:
    home: Path
    catalog: str
    train_manifest: str
    holdout_manifest: str
    null_caption: str
    run_id: str


@pytest.fixture(scope="session")
def tiny_home(tmp_path_factory) -> TinyHome:
    """Curate, encode and register a small demo corpus through the library stages, without Ray."""
    from catalog import Catalog
    from contracts.layout import Workspace
    from preprocess.curate import CurateConfig, curate
    from preprocess.encode import EncodeConfig, encode
    from preprocess.image.demo_corpus import write_demo_corpus

    home = tmp_path_factory.mktemp("tiny_home")
    corpus = write_demo_corpus(home / "source", num_digits=200, num_shapes=20)
    curated = curate(corpus.root, home, CurateConfig(shard_size=128, options={"resize": "square", "size": 32}), backend="local")
    encoded = encode(home, "image", EncodeConfig(), backend="local")
    catalog = str(home / "catalog.duckdb")
    with Catalog.open(catalog) as cat:
        run_id = cat.start_run("tiny_home", {})
        cat.register_batches([*curated.batch_paths, *encoded.batch_paths], run_id)
        cat.create_manifest("tiny-train", "modality = 'image' AND split = 'train'")
        cat.create_manifest("tiny-holdout", "modality = 'image' AND split = 'holdout'")
        cat.finish_run(run_id)
    null = Workspace.at(home).null_caption(encoded.text_encoder)
    return TinyHome(home, catalog, "tiny-train", "tiny-holdout", str(null), run_id)


@pytest.fixture(scope="session")
def prefect_api_url(tmp_path_factory):
    """One Prefect server (127.0.0.1, its own PREFECT_HOME) for the end-to-end tests' `lumina demo`
    runs: each run would otherwise start and migrate its own (about 10 s each). The URL is only
    handed to the subprocesses that ask for it; this process's environment is left alone."""
    from flows.local_prefect import server_env, start_server, stop_server

    env = server_env({k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"})
    env["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect_server_home"))
    # A new database each session: registering Prefect's block types in it is ~0.8 s of the start's
    # ~8 s of CPU, for blocks no Lumina flow reads (results persist to the local filesystem without one).
    # A user's server registers them once per database: Prefect remembers it (memo_store.toml).
    env["PREFECT_API_BLOCKS_REGISTER_ON_START"] = "false"
    proc, url = start_server(env, startup_timeout_s=180)
    try:
        yield url
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def tiny_checkpoint(tiny_home, tmp_path_factory) -> Path:
    """A one-step checkpoint of the tiny workspace (32x32 identity latents, the paper's 1-D RoPE), in a
    copy of its catalog so registrations stay in the module that asked for it."""
    import shutil

    from training.trainer import TrainConfig, train

    root = tmp_path_factory.mktemp("tiny_checkpoint")
    catalog = str(shutil.copy(tiny_home.catalog, root / "catalog.duckdb"))
    out = train(TrainConfig(catalog=catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                            out_dir=str(root / "run"), steps=1, batch_size=4, progress=False, tensorboard=False,
                            model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4}))
    return Path(out.checkpoint)
