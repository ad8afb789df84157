"""Shared fixtures: a tiny curated, encoded and registered workspace built without Ray or Prefect."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.shared_ray_cluster import CLUSTER, uses_cluster

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


_CURVE_WORDS = ("loss_curve", "plot_curve", "RunMonitor")
_curve_named: dict[str | None, tuple[bool, set[str]]] = {}


def _names_the_curve(text: str) -> bool:
    return any(word in text for word in _CURVE_WORDS)


def _where_a_module_names_the_curve(path: str | None) -> tuple[bool, set[str]]:
    """(whether a test module names the loss curve (its PNG, plot_curve, the monitor) outside its
    top-level test functions, in a helper or fixture any test may call; which test functions name it
    in their own body). Parsed once per module; one that cannot be read or parsed names it."""
    if path not in _curve_named:
        import ast

        try:
            source = Path(path).read_text()
            lines = source.splitlines(keepends=True)
            naming = set()
            for node in ast.parse(source).body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                    span = range(node.decorator_list[0].lineno - 1 if node.decorator_list else node.lineno - 1, node.end_lineno)
                    if _names_the_curve("".join(lines[i] for i in span)):
                        naming.add(node.name)
                    for i in span:
                        lines[i] = "\n"
            _curve_named[path] = (_names_the_curve("".join(lines)), naming)
        except (OSError, TypeError, SyntaxError):
            _curve_named[path] = (True, set())
    return _curve_named[path]


def _test_names_the_curve(request) -> bool:
    outside, naming = _where_a_module_names_the_curve(getattr(request.module, "__file__", None))
    return outside or request.function.__name__ in naming


def _read_not_drawn(csv_path, png):
    """plot_curve's reading of metrics.csv (its columns, the running mean it draws) without the drawing."""
    import training.monitor as monitor

    columns = monitor._columns(csv_path, ("step", "loss", "lr", "grad_norm"))
    if columns is not None and len(columns[0]) // 50 > 1:
        monitor.running_mean(columns[1], len(columns[0]) // 50)
    return None  # as for a run without a step: no PNG, TrainResult.loss_curve None


def _draw_every_curve() -> bool:
    return os.environ.get("LUMINA_TEST_DRAW_CURVES") == "1"


@pytest.fixture(autouse=True)
def loss_curve_read_not_drawn(request):
    """In-process training in a test that never looks at the loss curve reads metrics.csv as
    plot_curve does (its columns and running mean) but draws no PNG: matplotlib's layout and PNG
    writing are ~0.16 s a curve, drawn at a run's first checkpoint and at its end, in ~200 in-process
    runs. The drawing is tested where it is named: a test whose body names loss_curve, plot_curve or
    RunMonitor draws, as does every test of a module that names one in a helper or fixture
    (tests/training/test_monitor_curve.py, test_mutation_killers_monitor.py ...); and every `lumina`,
    torchrun and Ray process a test starts draws as a user's does. LUMINA_TEST_DRAW_CURVES=1 draws all.
    A MonkeyPatch of its own: a test's `monkeypatch.undo()` (of its own patches) left this one undone
    too, and that test's later runs drew (tests/training/test_resume_catalog_rows.py: ~1 s a test)."""
    with pytest.MonkeyPatch.context() as mp:
        if not _draw_every_curve() and not _test_names_the_curve(request):
            import training.monitor as monitor

            mp.setattr(monitor, "plot_curve", _read_not_drawn)
        yield


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


class _PrefectServer:
    """One Prefect server (127.0.0.1, its own PREFECT_HOME) for the end-to-end tests' `lumina demo`
    runs: each run would otherwise start and migrate its own (about 10 s each). Started by the first
    test that asks for it and stopped after the last: an idle server's services still poll its
    database (~0.8 s of CPU a minute), and the tests that use it run first, in one xdist_group."""

    proc = None
    url: str | None = None

    def start(self, tmp_path_factory) -> str:
        if self.url is None:
            from flows.local_prefect import server_env, start_server

            env = server_env({k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"})
            env["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect_server_home"))
            # A new database each start: registering Prefect's block types in it is ~0.8 s of the start's
            # ~8 s of CPU, for blocks no Lumina flow reads (results persist to the local filesystem without
            # one). A user's server registers them once per database: Prefect remembers it (memo_store.toml).
            env["PREFECT_API_BLOCKS_REGISTER_ON_START"] = "false"
            # its database already migrated (once per session, shared with the tests that start servers
            # of their own): migrating a new file is most of a start's CPU (13.5 s -> 5.3 s, helper C)
            from tests.flows.prefect_db_s57c import seed_prefect_db

            seed_prefect_db(Path(env["PREFECT_HOME"]) / "prefect.db", tmp_path_factory)
            self.proc, self.url = start_server(env, startup_timeout_s=180)
        return self.url

    def stop(self) -> None:
        if self.proc is not None:
            from flows.local_prefect import stop_server

            stop_server(self.proc)
        self.proc = self.url = None


_PREFECT = _PrefectServer()


@pytest.fixture
def prefect_api_url(tmp_path_factory) -> str:
    """The shared Prefect server's API URL, started if it is not running. The URL is only handed to
    the subprocesses that ask for it; this process's environment is left alone."""
    return _PREFECT.start(tmp_path_factory)


def _uses_prefect(item) -> bool:
    return item is not None and "prefect_api_url" in getattr(item, "fixturenames", ())


def _a_later_test_uses_prefect(item) -> bool:
    """Under xdist the tests that use the server are one xdist_group, run one after another on one
    worker: the next test says it. In one process they are spread over their files: any test after
    this one in the run's order."""
    if hasattr(item.config, "workerinput"):
        return False
    items = item.session.items
    later = items[items.index(item) + 1:] if item in items else items
    return any(_uses_prefect(other) for other in later)


@pytest.fixture
def ray_cluster() -> str:
    """The shared private Ray cluster's address (host:port), started if it is not running
    (tests/shared_ray_cluster.py; mark the test `ray_cluster_group` so it runs beside the others)."""
    return CLUSTER.start()


@pytest.fixture
def ray_address(ray_cluster, monkeypatch) -> str:
    """RAY_ADDRESS set to the shared cluster, so ensure_ray in this process joins it."""
    monkeypatch.setenv("RAY_ADDRESS", ray_cluster)
    return ray_cluster


def _leave_ray() -> None:
    """A driver still joined to the stopped cluster is ended by Ray's core worker 60 s later, and pytest
    with it, without a summary (helper A, session 57)."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


def pytest_runtest_teardown(item, nextitem):
    if _uses_prefect(item) and not _uses_prefect(nextitem) and not _a_later_test_uses_prefect(item):
        _PREFECT.stop()
    if uses_cluster(item) and not uses_cluster(nextitem):
        _leave_ray()
        CLUSTER.stop()


def pytest_sessionfinish(session):
    _PREFECT.stop()
    CLUSTER.stop()


@pytest.fixture(scope="module")
def tiny_checkpoint(tiny_home, tmp_path_factory) -> Path:
    """A one-step checkpoint of the tiny workspace (32x32 identity latents, the paper's 1-D RoPE), in a
    copy of its catalog so registrations stay in the module that asked for it."""
    import shutil

    from training.trainer import TrainConfig, train

    root = tmp_path_factory.mktemp("tiny_checkpoint")
    catalog = str(shutil.copy(tiny_home.catalog, root / "catalog.duckdb"))
    with pytest.MonkeyPatch.context() as mp:
        if not _draw_every_curve():  # no test of the modules that ask for it looks at its loss curve
            import training.monitor as monitor

            mp.setattr(monitor, "plot_curve", _read_not_drawn)
        out = train(TrainConfig(catalog=catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                                out_dir=str(root / "run"), steps=1, batch_size=4, progress=False, tensorboard=False,
                                model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4}))
    return Path(out.checkpoint)
