"""Ray start-up (loopback only, offline env) and a progress-reporting gather: infrastructure on the ground floor, shared by the stages and the trainer."""

from __future__ import annotations

import logging
import os
import signal
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from tqdm.auto import tqdm

from contracts.env import OFFLINE_ENV  # Ray workers inherit these: none of them may reach a hub


# Local-only by default: Ray's own "local cluster" mode (meant for laptops) makes every Ray
# process (GCS, raylet, workers, agents) bind to the loopback address instead of all interfaces.
# Ray reads it at import and in the processes it starts, so it goes in the environment.
LOCAL_ONLY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
NODE_IP_ENV = "LUMINA_RAY_NODE_IP"  # set to this host's address to open a pipeline-started Ray up on purpose
DASHBOARD_ENV = "LUMINA_RAY_DASHBOARD"  # "1": start the dashboard (on 127.0.0.1:8265 unless the node IP is set)
_started_here = False  # this process started a private local instance (not joined a cluster)


def ensure_ray(address: str | None = None, num_cpus: int | None = None, dashboard: bool | None = None,
               node_ip: str | None = None) -> None:
    """Start (or join) Ray once per process. address=None starts a local instance;
    RAY_ADDRESS or address="auto" joins a running cluster (whose own settings then apply). A
    host:port address is checked first (``check_ray_address``: one line when nothing listens), and
    a loopback one is kept as it is (Ray would connect to this host's public address instead).

    A local instance listens on 127.0.0.1 only and has no dashboard, unless ``node_ip`` (or
    $LUMINA_RAY_NODE_IP) names an address to listen on and ``dashboard`` (or $LUMINA_RAY_DASHBOARD=1)
    asks for the dashboard. Ray's authentication is off (RAY_AUTH_MODE=disabled), which is why
    nothing may listen beyond this machine unless you open it up yourself.
    """
    global _started_here
    import ray

    for k, v in OFFLINE_ENV.items():
        os.environ.setdefault(k, v)
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    node_ip = node_ip or os.environ.get(NODE_IP_ENV) or None
    if dashboard is None:
        dashboard = os.environ.get(DASHBOARD_ENV, "") == "1"
    kwargs: dict[str, Any] = dict(include_dashboard=dashboard, logging_level=logging.WARNING, log_to_driver=False)
    if address:  # a cluster's workers get the offline environment too
        if _is_loopback(check_ray_address(address)):
            _local_only()  # Ray would otherwise swap 127.0.0.1 for this host's address, where a loopback GCS is not
        try:
            ray.init(address=address, runtime_env={"env_vars": OFFLINE_ENV}, **kwargs)
        except ConnectionError as e:  # something listens there, but no GCS answers (a Ray Client port, another service)
            raise NoRayCluster(f"no Ray cluster answers at {address} ({str(e).splitlines()[0]}): give the head's GCS "
                               "address (port 6379 unless `ray start --head --port` said otherwise), or ray://HOST:10001 "
                               "for Ray Client") from e
        return
    if node_ip in (None, "127.0.0.1", "localhost"):
        _local_only()  # Ray would otherwise swap 127.0.0.1 for this host's public address
        node_ip = "127.0.0.1"
    _started_here = True
    kwargs["dashboard_host"] = node_ip if dashboard else "127.0.0.1"
    # The working directory is on every worker's path already (same machine); ship env only.
    ray.init(num_cpus=num_cpus or os.cpu_count(), runtime_env={"env_vars": OFFLINE_ENV}, _node_ip_address=node_ip,
             **kwargs)


GCS_CONNECT_TIMEOUT_S = 5.0  # one connect attempt
# how long a refused address is tried again: a head `ray start` has just launched takes seconds to
# listen (a script that starts a cluster and then runs lumina, as tests/flows/test_ray_cluster.py)
GCS_WAIT_S = float(os.environ.get("LUMINA_RAY_CONNECT_WAIT_S") or 15.0)


class NoRayCluster(ConnectionError):
    """Nothing listens at the Ray address asked for (a user error: one line, exit 2)."""


def check_ray_address(address: str, timeout: float = GCS_CONNECT_TIMEOUT_S, wait: float | None = None) -> str | None:
    """A TCP connect to a ``host:port`` cluster address's GCS port, tried again for ``wait`` seconds
    (GCS_WAIT_S; $LUMINA_RAY_CONNECT_WAIT_S) while it is refused; returns the host. Ray itself
    retries an unreachable GCS for over a minute and then prints a stack of errors. Addresses Ray
    resolves itself ("auto", "local", ray://...) are not checked (None)."""
    import socket
    import time

    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or "://" in address or not host or not port.isdigit():
        return None
    deadline = time.monotonic() + (GCS_WAIT_S if wait is None else wait)
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
            return host
        except ConnectionRefusedError as e:  # nothing listens yet: a cluster may be starting
            if time.monotonic() >= deadline:
                raise NoRayCluster(_no_cluster(address, host, port, e)) from None
            time.sleep(0.25)
        except OSError as e:
            raise NoRayCluster(_no_cluster(address, host, port, e)) from None


def _no_cluster(address: str, host: str, port: str, e: OSError) -> str:
    start = f"ray start --head --node-ip-address {host} --port {port}"
    if _is_loopback(host):
        start = f"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 {start}"
    reason = "timed out" if isinstance(e, TimeoutError) else (e.strerror or type(e).__name__).lower()
    return (f"no Ray cluster at {address} ({reason}): start one with `{start}`, or drop --ray-address / RAY_ADDRESS "
            "(a flow run: its ray_address parameter)")


def _is_loopback(host: str | None) -> bool:
    import ipaddress

    if host is None:
        return False
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        return False


def _local_only() -> None:
    """Ray's loopback mode, for this process (already imported ray) and every process Ray starts."""
    from ray._private import ray_constants

    os.environ.update(LOCAL_ONLY_ENV)
    ray_constants.ENABLE_RAY_CLUSTER = False  # read when Ray resolves the node address, after import


def started_private_ray() -> bool:
    """Whether the Ray this process is connected to is the private local instance it started itself
    (not a cluster it joined): nothing else runs there, and its only node is this machine."""
    return _started_here


def release_local_ray() -> bool:
    """Stop the private local Ray instance this process started, if any (a joined cluster is left
    alone). Its idle GCS, raylet, agents and workers take ~15% of a core, which a 2-core machine
    training in this process pays on every step; a later stage that needs Ray starts it again."""
    global _started_here
    if not _started_here:
        return False
    import ray

    if ray.is_initialized():
        ray.shutdown()
    _started_here = False
    return True


# A cluster whose head dies mid-stage: Ray's core worker retries the GCS for 60 s and then ends the
# process (exit 1, no message of ours, the catalog run left `running`). A stage waiting on Ray probes
# the GCS port instead whenever nothing arrived for GCS_PROBE_EVERY_S, and gives up with one line
# (RayClusterLost, exit 2, the run marked failed) once it was unreachable for GCS_LOST_AFTER_S.
GCS_PROBE_EVERY_S = 2.0
# a blip shorter than this is ridden out, as Ray would; more for a head that GCS fault tolerance restarts
LOST_AFTER_ENV = "LUMINA_RAY_LOST_S"
GCS_LOST_AFTER_S: float | None = None  # None: $LUMINA_RAY_LOST_S, else 10 s (read when a watch starts)


def lost_after_s() -> float:
    """GCS_LOST_AFTER_S, or $LUMINA_RAY_LOST_S (default 10). Read when a stage starts, not at import:
    a malformed value made every command's error handling fail (two tracebacks, exit 1)."""
    if GCS_LOST_AFTER_S is not None:
        return GCS_LOST_AFTER_S
    from contracts.config import ConfigError

    raw = os.environ.get(LOST_AFTER_ENV) or "10"
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ConfigError(f"{LOST_AFTER_ENV}={raw!r}: give the seconds without an answer after which a Ray cluster "
                          "counts as lost mid-stage, a number such as 10 (or unset it)")
    return value


# the handler gcs_watched trips in the main thread (interrupt_main: the process is sent nothing)
LOST_SIGNAL = signal.SIGUSR2


class RayClusterLost(ConnectionError):
    """The Ray cluster stopped answering in the middle of a stage (one line, exit 2)."""


class RayClusterLostInterrupt(BaseException):
    """What gcs_watched raises wherever the main thread is once the cluster is lost; the block ends as
    RayClusterLost. A BaseException, as KeyboardInterrupt, so that code catching Exception lets it
    through: Ray's deserializer logged a RayClusterLost that landed in it with its whole traceback
    (the CI run of 7 Dec 2026), and inspect.getfullargspec made one a TypeError."""


class _GcsWatch:
    """Probes the GCS of the Ray this process joined or started, while a stage waits on it."""

    def __init__(self):
        self.lost_since: float | None = None
        self.lost_after = lost_after_s()  # a malformed $LUMINA_RAY_LOST_S: one line as the stage starts
        self.gcs = gcs_address()  # Ray Client (ray://) has none: not watched, Ray's own timeout applies

    def _answers(self) -> bool:
        return _gcs_answers(self.gcs)

    def check(self) -> None:
        """Raise RayClusterLost once the GCS was unreachable for GCS_LOST_AFTER_S in a row."""
        import time

        if not self.gcs or self._answers():
            self.lost_since = None
            return
        now = time.monotonic()
        self.lost_since = self.lost_since or now
        if now - self.lost_since < self.lost_after:
            return
        where = lost_cluster_where(self.gcs)
        if where is None:  # our private instance: only `ray stop` (or a crash) on this host ends it
            raise RayClusterLost(f"this command's own Ray instance (GCS {self.gcs}) stopped answering mid-stage (was "
                                 "`ray stop` run on this host?): run the same command again: stages are resumable")
        raise RayClusterLost(f"the Ray cluster at {where} stopped answering mid-stage (unreachable for "
                             f"{self.lost_after:g} s): restart the cluster and run the same command again: stages are "
                             "resumable (finished work is reused)")


def gather(refs: list, desc: str, on_result: Callable[[Any], None] | None = None) -> list:
    """ray.get with a progress bar; results come back in the order of refs. Takes the refs: the list
    is emptied, and each ref is dropped as soon as its result is in (see stream_tasks). A cluster that
    dies meanwhile raises RayClusterLost within about GCS_LOST_AFTER_S (see _GcsWatch)."""
    given = list(refs)
    refs.clear()
    given.reverse()  # popped from the end: the first ref first
    return stream_tasks(lambda i: given.pop(), len(given), desc, on_result, window=len(given))


# Tasks stream_tasks keeps submitted and not yet taken in, at least (else TASKS_PER_CPU per cluster CPU)
MIN_TASKS_IN_FLIGHT = 16
TASKS_PER_CPU = 4


def tasks_in_flight() -> int:
    """How many tasks stream_tasks keeps submitted: enough to keep every CPU of the cluster busy, and
    no more (each one's arguments, and its result until taken in, are held by this process)."""
    import ray

    try:
        cpus = int(ray.cluster_resources().get("CPU", 0))
    except Exception:  # noqa: BLE001 - not connected yet, or a client that cannot tell
        cpus = 0
    return max(MIN_TASKS_IN_FLIGHT, TASKS_PER_CPU * cpus)


def stream_tasks(submit: Callable[[int], Any], n: int, desc: str, on_result: Callable[[Any], None] | None = None,
                 window: int | None = None, keep: Callable[[int, Any], Any] | None = None) -> list:
    """Results of ``submit(0) .. submit(n - 1)`` (each returns an ObjectRef), in that order, with a
    progress bar; at most ``window`` (tasks_in_flight()) submitted and not yet taken in. Each ref is
    dropped as soon as its result is in: as long as a ref lives, Ray keeps its task's result (a small one
    in this process's own object store, beside the copy ray.get made) and its task's arguments (for
    lineage). Holding every ref of a stage to its end (as gather did) grew the curate driver ~1.4 KB an
    input beside the candidates themselves, and submitting every task at once held every task's
    arguments from the start. A cluster that dies meanwhile raises RayClusterLost within about
    GCS_LOST_AFTER_S (see _GcsWatch); ``on_result`` raising stops the submissions. ``keep(i, value)``:
    what is kept of task i's result, once on_result has seen it (default: the value)."""
    import ray

    window = max(1, window if window is not None else tasks_in_flight())
    results: list[Any] = [None] * n
    index: dict[Any, int] = {}
    pending: list = []
    submitted = 0
    watch = _GcsWatch()
    with tqdm(total=n, desc=desc, unit="task", leave=True) as bar:
        while submitted < n or pending:
            while submitted < n and len(pending) < window:
                ref = submit(submitted)
                index[ref] = submitted
                pending.append(ref)
                submitted += 1
                ref = None
            # a timeout: a plain ray.wait blocks until Ray's own 60 s GCS timeout ends the process
            done, pending = ray.wait(pending, num_returns=1, timeout=GCS_PROBE_EVERY_S)
            if not done:
                watch.check()
                continue
            ref = done.pop()
            value = ray.get(ref)
            i = index.pop(ref)
            ref = None  # the last ref of the task (index and pending no longer hold it): Ray frees its result
            if on_result:
                on_result(value)
            results[i] = keep(i, value) if keep else value
            value = None
            bar.update(1)
    return results


@contextmanager
def gcs_watched() -> Iterator[None]:
    """Around a blocking Ray wait that has no timeout of its own (a Ray Data ``iter_rows()``): a daemon
    thread probes the GCS every GCS_PROBE_EVERY_S, and once it was unreachable for GCS_LOST_AFTER_S it
    trips LOST_SIGNAL's handler in the main thread (``_thread.interrupt_main``: no signal is sent), which
    raises RayClusterLostInterrupt wherever the wait is, as Ctrl-C raises KeyboardInterrupt (and the block
    ends as RayClusterLost); not Ray's exit after
    60 s. Not SIGINT itself: a process started in the background by a script ignores it, and there
    the watch did nothing. The wait stays on the main thread, so Ctrl-C and Ray Data's shutdown behave
    as without the watch (iterating in a helper thread left Ray Data running after a Ctrl-C, where it
    started a new Ray instance while the process exited). Off the main thread nothing is watched.
    Once the watch has tripped, any error that ends the block (the code where the trip landed may have
    caught it and raised one of its own) leaves it as RayClusterLost, the original as its __cause__."""
    import _thread
    import threading

    watch = _GcsWatch()
    if not watch.gcs or threading.current_thread() is not threading.main_thread():
        yield
        return
    lost: list[RayClusterLost] = []
    done, guard = threading.Event(), threading.Lock()

    def on_lost(signum, frame) -> None:
        if lost and not done.is_set():
            raise RayClusterLostInterrupt(*lost[0].args)

    def probe() -> None:
        while not done.wait(GCS_PROBE_EVERY_S):
            if not lost:
                try:
                    watch.check()
                    continue
                except RayClusterLost as e:
                    lost.append(e)
            # tripped again every GCS_PROBE_EVERY_S until the block ends: code that swallows what it
            # catches (a tqdm bar's __del__) may take the first trip where it lands
            with guard:  # never once the block has ended
                if not done.is_set():
                    _thread.interrupt_main(LOST_SIGNAL)

    def unraisable(report) -> None:  # a trip that landed in a __del__ is Python's "Exception ignored" report
        if not isinstance(report.exc_value, RayClusterLostInterrupt):  # taken again at the next trip
            previous_hook(report)

    previous, previous_hook = signal.signal(LOST_SIGNAL, on_lost), sys.unraisablehook
    sys.unraisablehook = unraisable
    threading.Thread(target=probe, name="lumina-gcs-watch", daemon=True).start()
    error: BaseException | None = None
    try:
        yield
    except (Exception, RayClusterLostInterrupt) as e:  # decided below, once the watch has stopped (Ctrl-C stays
        # KeyboardInterrupt)
        error = e
    finally:
        # a trip may land here too, before done is set: take it and set done again (the next trip is
        # GCS_PROBE_EVERY_S away), or the probe would go on tripping after the block has ended. The
        # block's outcome is decided already (no error: its work is done)
        while True:
            try:
                with guard:
                    done.set()
                break
            except RayClusterLostInterrupt:
                continue
        signal.signal(LOST_SIGNAL, previous)
        if sys.unraisablehook is unraisable:
            sys.unraisablehook = previous_hook
    if error is None:
        return
    if not lost or isinstance(error, RayClusterLost):
        raise error
    if isinstance(error, RayClusterLostInterrupt):  # where it landed says nothing a user needs
        raise RayClusterLost(*lost[0].args) from None
    # the trip lands wherever the main thread is, and the code there may make it an error of its own:
    # inspect.getfullargspec, as Ray Data started an actor, turned it into TypeError("unsupported
    # callable"), Ray Data wrapped that, and the stage ended with its traceback. Once the cluster is
    # known lost, whatever error ends the block is the lost cluster: the one line, exit 2
    raise RayClusterLost(*lost[0].args) from error


# For a caller that waits on Ray in a way of its own (Ray Train's fit(): its ray.get raises as soon as
# the controller actor's node is gone, and the watch above may never trip) and words the loss itself.
def gcs_address() -> str | None:
    """The GCS address of the Ray this process joined or started (None: not connected, or Ray Client);
    read before a long wait, as the watch reads it. Never starts Ray (Ray's runtime context would,
    joining $RAY_ADDRESS)."""
    import ray

    if not ray.is_initialized():
        return None
    try:
        return ray.get_runtime_context().gcs_address
    except Exception:  # noqa: BLE001 - not connected, or a client: nothing to probe
        return None


GCS_SETTLE_PROBES = 8  # gcs_lost: probes, GCS_PROBE_EVERY_S apart in all, that a GCS answers to keep a failure its own


def gcs_lost(gcs: str | None, lost_after: float | None = None) -> bool:
    """After a Ray call failed: True once the GCS at ``gcs`` did not answer for ``lost_after`` seconds
    in a row (lost_after_s() when None); False once it answered every probe for GCS_PROBE_EVERY_S in a
    row (the failure was something else), and for no address (nothing to probe). Probed
    GCS_SETTLE_PROBES times a GCS_PROBE_EVERY_S (every 0.25 s by default).

    Not False at the first answer: a head whose processes die one by one (a kill loop on a loaded
    host, a shutdown) keeps its GCS answering for a moment after the rest, and fit() fails in that
    moment (the controller's node is gone). Taken as training's own error, that ended the run with
    Ray's excepthook waiting on the GCS, which died meanwhile, for 60 s, then exit 1 and no line of
    ours (tests/training/test_ray_launcher_cluster_lost.py, once in 5 runs under load)."""
    import time

    if not gcs:
        return False
    lost_after = lost_after_s() if lost_after is None else lost_after
    every = GCS_PROBE_EVERY_S / GCS_SETTLE_PROBES
    down_since: float | None = None
    up_since: float | None = None
    while True:
        now = time.monotonic()
        if _gcs_answers(gcs):
            down_since = None
            up_since = now if up_since is None else up_since
            if now - up_since >= GCS_PROBE_EVERY_S:
                return False
            wait = every
        else:
            up_since = None
            down_since = now if down_since is None else down_since
            if now - down_since >= lost_after:
                return True
            wait = min(every, lost_after - (now - down_since))
        time.sleep(max(0.01, wait))


def _gcs_answers(gcs: str) -> bool:
    try:
        check_ray_address(gcs, timeout=2.0, wait=0)
        return True
    except NoRayCluster:  # refused, timed out, unreachable
        return False


def lost_cluster_where(gcs: str | None) -> str | None:
    """Whose GCS stopped answering, for a message of the caller's own: None for this command's own
    private Ray instance (only `ray stop` or a crash on this host ends it), else the cluster's address
    as the user gave it, with the GCS address when that differs (the words RayClusterLost uses)."""
    address = os.environ.get("RAY_ADDRESS")
    if _started_here or not address:
        return None
    return address if address == gcs else f"{address} (GCS {gcs})"
