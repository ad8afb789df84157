"""Mutation testing of the modules where a silent bug costs most (mutmut 3), one module at a time.

    .venv/bin/python bench/mutation/run.py [MODULE ...] [--max-children N] [--work DIR]
    .venv/bin/python bench/mutation/run.py MODULE --rerun-survivors   # after writing killer tests

Each module (bench/mutation/modules.toml) is run in its own scratch copy of the working tree
(mutmut writes a `mutants/` tree and a setup.cfg; the shared tree is never touched), mutating
only its files and running only its own tests. The report goes to stdout and to
bench/mutation/REPORT.md when it covers every module (else to REPORT-partial.md in --work, so a run
of some modules never drops the others' rows from the committed report): per module mutants,
killed, equivalent, survived and time; every survivor's diff; and the reason for each mutant
judged equivalent, read from bench/mutation/equivalent.toml (reviewed by hand; a judgement is
matched by function and changed lines, so it survives renumbering).

A hanging mutant is stopped by a per-test timeout (`test_timeout` in modules.toml, a few times the
slowest of the module's tests, not pyproject's 900 s) and recorded as "timeout"; a test process
kills the processes it started (mutation_timeout.py), and what is left of mutmut's session when it
ends is killed too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
KILLED = {"killed", "timeout", "caught by type check", "segfault", "signalled"}  # the tests noticed the change
# a survivor that no test even reaches counts as survived: that is the point of the exercise
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
          36: "timeout", 37: "caught by type check", -24: "timeout", 24: "timeout", 152: "timeout",
          255: "timeout", -11: "segfault", -9: "segfault",
          -1: "signalled"}  # the test process died of SIGHUP: a mutant that signals the process it only asked about
OFFLINE = dict(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", RAY_AUTH_MODE="disabled",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")

# prints {mutant name: diff} for the names given on stdin; run inside a module's scratch copy
_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
print(json.dumps({n: get_diff_for_mutant(n) for n in json.load(sys.stdin)}))
"""


@dataclass
class Mutant:
    name: str
    status: str
    diff: str = ""
    reason: str | None = None  # set when judged equivalent

    @property
    def function(self) -> str:
        return self.name.rsplit("__mutmut_", 1)[0]

    def changed_lines(self) -> tuple[str, str]:
        lines = [l for l in self.diff.splitlines() if not l.startswith(("---", "+++"))]
        return ("\n".join(l[1:].strip() for l in lines if l.startswith("-")),
                "\n".join(l[1:].strip() for l in lines if l.startswith("+")))


@dataclass
class ModuleResult:
    name: str
    seconds: float
    mutants: list[Mutant] = field(default_factory=list)
    error: str | None = None
    load: str = ""  # 1/5/15-minute load average when the module started
    cpu_seconds: float | None = None  # user + system time of mutmut and its workers

    def count(self, kind: str) -> int:
        if kind == "killed":
            return sum(m.status in KILLED for m in self.mutants)
        if kind == "equivalent":
            return sum(m.reason is not None for m in self.mutants)
        return sum(m.status not in KILLED and m.reason is None for m in self.mutants)

    @property
    def score(self) -> float:
        live = len(self.mutants) - self.count("equivalent")
        return self.count("killed") / live if live else 1.0


def load_modules() -> dict[str, dict]:
    return tomllib.loads((HERE / "modules.toml").read_text())


def load_equivalents() -> dict[tuple[str, str, str], str]:
    path = HERE / "equivalent.toml"
    if not path.exists():
        return {}
    rows = tomllib.loads(path.read_text()).get("equivalent", [])
    return {(r["function"], r["removed"].strip(), r["added"].strip()): r["reason"] for r in rows}


def scratch_copy(dest: Path) -> None:
    """The working tree as git sees it (tracked and untracked, ignored files left out)."""
    if dest.exists():
        shutil.rmtree(dest)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _tests(mod: dict) -> list[str]:
    """A module's test selection: paths (with an optional ::test) and globs of test files
    (`tests/training/test_stream*.py`: a new file of the module's tests is run without an entry here)."""
    out = []
    for t in mod["tests"]:
        if any(c in t for c in "*?["):
            found = sorted(str(f.relative_to(REPO)) for f in REPO.glob(t))
            if not found:
                raise SystemExit(f"modules.toml: no test file matches {t}")
            out += found
        else:
            out.append(t)
    return out


def _sources(mod: dict) -> list[str]:
    """A module's top-level packages: `source` is one name, or a list (files in several packages)."""
    return [mod["source"]] if isinstance(mod["source"], str) else list(mod["source"])


DEFAULT_TEST_TIMEOUT = 300  # seconds a test of a module without its own `test_timeout` may take


def setup_cfg(dest: Path, mod: dict, skip_lines: list[str], test_timeout: float = DEFAULT_TEST_TIMEOUT) -> None:
    """mutmut reads [mutmut] from setup.cfg; pyproject.toml has no [tool.mutmut], so this wins.
    Lines matching a `skip_lines` regex (error messages, logging) are not mutated. Every test
    stops after `test_timeout` seconds (a module's own `test_timeout` wins): a mutant that makes
    one loop forever ends as "timeout" (mutation_timeout.py) instead of holding a worker for
    pyproject's 900 s."""
    sources = _sources(mod)
    timeout = mod.get("test_timeout", test_timeout)
    also_copy = sorted(p.name for p in dest.iterdir() if p.name not in {*sources, "setup.cfg", "mutants"})
    lines = ["[mutmut]",
             "source_paths =\n" + "".join(f"    {s}\n" for s in sources).rstrip(),
             "only_mutate =\n" + "".join(f"    {f}\n" for f in mod["files"]).rstrip(),
             "also_copy =\n" + "".join(f"    {p}\n" for p in also_copy).rstrip(),
             "pytest_add_cli_args_test_selection =\n" + "".join(f"    {t}\n" for t in _tests(mod)).rstrip(),
             "pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -q\n    -p\n    mutation_timeout\n"
             f"    --timeout={timeout:g}\n    --timeout-method=signal",
             "use_git_change_detection = false",
             ]
    if skip_lines:
        lines.append("do_not_mutate_patterns =\n" + "".join(f"    {p}\n" for p in skip_lines).rstrip())
    (dest / "setup.cfg").write_text("\n".join(lines) + "\n")


def statuses(dest: Path, mod: dict) -> dict[str, str]:
    out = {}
    for f in mod["files"]:
        meta = dest / "mutants" / (f + ".meta")
        if meta.exists():
            for key, code in json.loads(meta.read_text())["exit_code_by_key"].items():
                out[key] = "not checked" if code is None else STATUS.get(code, "suspicious")
    globs = mod.get("functions")
    if globs:
        import fnmatch
        out = {k: v for k, v in out.items() if any(fnmatch.fnmatch(k, g) for g in globs)}
    return out


def _children_cpu() -> float:
    """CPU seconds of every finished, waited-for descendant (mutmut's forked workers included)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _session_processes(sid: int) -> list[int]:
    """The processes still in session `sid` (Linux /proc)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[3]) == sid:  # after the name: state, ppid, pgrp, session
            pids.append(int(stat.parent.name))
    return pids


def _kill_session(sid: int) -> int:
    """SIGKILLs what is left of the session mutmut led (loader workers of a mutant's tests, orphaned
    when the test process was stopped: they ignore SIGTERM); the number killed."""
    import signal

    left = [p for p in _session_processes(sid) if p != os.getpid()]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(left)


def _mutmut(dest: Path, max_children: int, names: list[str], log: Path) -> tuple[float, float, str | None]:
    """Runs `mutmut run` in dest in a session of its own; (wall seconds, CPU seconds, error or None).
    Its output goes to the log file, not a pipe (a process it left behind would hold a pipe open
    and keep run.py waiting after mutmut had ended), and what is left of the session is killed."""
    cmd = [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children), *names]
    env = dict(os.environ, **OFFLINE)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))  # -p mutation_timeout
    start, cpu = time.monotonic(), _children_cpu()
    with log.open("w") as out:
        p = subprocess.Popen(cmd, cwd=dest, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            returncode = p.wait()
        finally:
            left = _kill_session(p.pid)
            if left:
                out.write(f"\nrun.py: killed {left} process(es) left in mutmut's session\n")
    seconds, cpu = time.monotonic() - start, _children_cpu() - cpu
    return seconds, cpu, None if returncode == 0 else f"mutmut exited {returncode}; see {log}"


def run_module(name: str, mod: dict, work: Path, max_children: int, equivalents: dict,
               skip_lines: list[str]) -> ModuleResult:
    dest = work / name
    scratch_copy(dest)
    setup_cfg(dest, mod, skip_lines)
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    seconds, cpu, error = _mutmut(dest, max_children, mod.get("functions", []), work / f"{name}.log")
    return collect(name, mod, work, seconds, load, error, equivalents, cpu)


def rerun_survivors(name: str, mod: dict, work: Path, max_children: int, equivalents: dict,
                    skip_lines: list[str]) -> ModuleResult:
    """Reruns a module's mutants that were not killed, against today's tests and test selection
    (copied into its scratch tree); the killed ones keep their verdict. The time stays that of
    the full run."""
    dest, before = work / name, json.loads((work / f"{name}.json").read_text())
    setup_cfg(dest, mod, skip_lines)
    live = [m[0] for m in before["mutants"] if m[1] not in KILLED]
    for rel in _tests(mod):
        path = rel.split("::")[0]
        for src in [REPO / path, *(REPO / path).parent.glob("test_mutation_killers_*.py")]:
            shutil.copy2(src, dest / src.relative_to(REPO))
            if (dest / "mutants").exists():
                shutil.copy2(src, dest / "mutants" / src.relative_to(REPO))
    if live:
        _, _, error = _mutmut(dest, max_children, live, work / f"{name}.rerun.log")
        if error:
            print(f"   rerun: {error}", flush=True)
    # mutmut resets cached verdicts when the test selection changes: earlier kills still stand
    killed_before = {m[0]: m[1] for m in before["mutants"] if m[1] in KILLED}
    return collect(name, mod, work, before["seconds"], before.get("load", "?"), before["error"], equivalents,
                   before.get("cpu_seconds"), killed_before)


def collect(name: str, mod: dict, work: Path, seconds: float, load: str, error: str | None,
            equivalents: dict, cpu_seconds: float | None = None, killed_before: dict | None = None) -> ModuleResult:
    """Results from work/NAME/mutants; mutants not yet checked (a run stopped early) are left out
    of the counts and said in the error line."""
    dest = work / name
    env = dict(os.environ, **OFFLINE)
    status = statuses(dest, mod)
    for k, s in (killed_before or {}).items():
        if status.get(k) in (None, "not checked"):
            status[k] = s
    unchecked = [k for k, s in status.items() if s == "not checked"]
    status = {k: s for k, s in status.items() if s != "not checked"}
    if unchecked:
        error = f"stopped early: {len(status)} of {len(status) + len(unchecked)} mutants checked" + (f"; {error}" if error else "")
    elif not status:
        error = error or "no mutants"
    not_killed = sorted(k for k, s in status.items() if s not in KILLED)
    diffs = {}
    if not_killed:
        d = subprocess.run([sys.executable, "-c", _DIFFS], cwd=dest, env=env, input=json.dumps(not_killed),
                           capture_output=True, text=True)
        diffs = json.loads(d.stdout) if d.returncode == 0 else {k: f"(no diff: {d.stderr[-300:]})" for k in not_killed}
    result = ModuleResult(name, seconds, [Mutant(k, status[k], diffs.get(k, "")) for k in sorted(status, key=_natural)],
                          error, load, cpu_seconds)
    (work / f"{name}.json").write_text(json.dumps({"name": name, "seconds": seconds, "error": result.error, "load": load,
                                                    "cpu_seconds": cpu_seconds,
                                                    "mutants": [[m.name, m.status, m.diff] for m in result.mutants]}))
    return judge(result, equivalents)


def judge(result: ModuleResult, equivalents: dict) -> ModuleResult:
    for m in result.mutants:
        if m.status not in KILLED:
            m.reason = equivalents.get((m.function, *m.changed_lines()))
    return result


def stored(work: Path, name: str, equivalents: dict) -> ModuleResult:
    """A module's last run, re-judged against today's equivalent.toml (--report-only)."""
    d = json.loads((work / f"{name}.json").read_text())
    r = ModuleResult(d["name"], d["seconds"], [Mutant(*m) for m in d["mutants"]], d["error"], d.get("load", "?"),
                     d.get("cpu_seconds"))
    return judge(r, equivalents)


def _natural(name: str) -> tuple[str, int]:
    fn, _, n = name.rpartition("__mutmut_")
    return fn, int(n) if n.isdigit() else 0


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


def report(results: list[ModuleResult], total_seconds: float, load: str) -> str:
    cpu = sum(r.cpu_seconds or 0.0 for r in results)
    out = ["# Mutation testing report (mutmut)", "",
           f"`make mutation`; {'sum of the module runs below' if load.startswith('per module') else 'total'}: "
           f"{total_seconds / 60:.1f} min wall; {cpu / 60:.1f} min CPU (user + system, "
           f"mutmut and its workers, {os.cpu_count()} cores). Load average at start: {load} (1/5/15 min). The "
           "machine is shared with other work, so wall times are noisy; CPU time / cores is a lower bound on "
           "the wall time of the same run on an idle machine (mutmut's stats and clean-test phases run on one core).",
           "",
           "| module | mutants | killed | equivalent | survived | killed / non-equivalent | wall | CPU | load at start |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in results:
        if not r.mutants:
            out.append(f"| {r.name} | - | - | - | - | not run | - | - | |")
            continue
        out.append(f"| {r.name} | {len(r.mutants)} | {r.count('killed')} | {r.count('equivalent')} | "
                   f"{r.count('survived')} | {100 * r.score:.1f}% | {_minutes(r.seconds)} | {_minutes(r.cpu_seconds)} "
                   f"| {r.load} |")
    n = sum(len(r.mutants) for r in results)
    k, e, s = (sum(r.count(c) for r in results) for c in ("killed", "equivalent", "survived"))
    results = [r for r in results if r.mutants]
    out.append(f"| **all** | {n} | {k} | {e} | {s} | {100 * k / max(1, n - e):.1f}% | {total_seconds / 60:.1f} min | "
               f"{cpu / 60:.1f} min | |")
    for r in results:
        if r.error:
            out += ["", f"**{r.name}: {r.error}**"]
    notes = HERE / "notes.md"  # hand-written context (how the figures were measured), kept across runs
    if notes.exists():
        out += ["", notes.read_text().strip()]
    out += ["", "## Survivors", ""]
    for r in results:
        for m in r.mutants:
            if m.status not in KILLED and m.reason is None:
                out += [f"### {r.name}: `{m.name}` ({m.status})", "", "```diff", m.diff, "```", ""]
    out += ["## Judged equivalent (bench/mutation/equivalent.toml)", ""]
    for r in results:
        for m in r.mutants:
            if m.reason is not None:
                out.append(f"- {r.name}: `{m.name}`: {m.reason}")
    return "\n".join(out) + "\n"


def report_path(results: list[ModuleResult], all_modules: list[str], work: Path) -> Path:
    """The committed whole-run report, only if this report has a result for every module: a run of
    some modules (MODULES=...) must not replace the others' rows with nothing."""
    covered = {r.name for r in results if r.mutants}
    return HERE / "REPORT.md" if covered >= set(all_modules) else work / "REPORT-partial.md"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("modules", nargs="*", help="names from modules.toml (default: all)")
    ap.add_argument("--max-children", type=int, default=2)
    ap.add_argument("--work", type=Path, default=REPO / "runs" / "mutation")
    ap.add_argument("--report", type=Path, help="where the report goes (default: bench/mutation/REPORT.md when it "
                    "covers every module of modules.toml, else REPORT-partial.md in --work)")
    ap.add_argument("--report-only", action="store_true", help="rebuild the report from the last runs in --work")
    ap.add_argument("--rerun-survivors", action="store_true",
                    help="rerun the given modules' surviving mutants against today's tests, then report all stored runs")
    ap.add_argument("--collect", nargs=2, metavar=("MODULE", "SECONDS"),
                    help="store the results of a run of MODULE in --work that was stopped after SECONDS")
    args = ap.parse_args()
    modules = load_modules()
    skip_lines = modules.pop("settings", {}).get("skip_lines", [])
    names = args.modules or list(modules)
    equivalents = load_equivalents()
    if args.collect:
        name, seconds = args.collect
        r = collect(name, modules[name], args.work, float(seconds), "?", None, equivalents)
        print(f"{name}: {len(r.mutants)} checked, {r.error}")
        return 0
    if args.rerun_survivors:
        for name in names:
            r = rerun_survivors(name, modules[name], args.work, args.max_children, equivalents, skip_lines)
            print(f"== {name}: {r.count('survived')} survived after the rerun", flush=True)
        args.report_only, names = True, list(modules)
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    start = time.monotonic()
    results = []
    for name in names:
        if args.report_only:
            if (args.work / f"{name}.json").exists():
                results.append(stored(args.work, name, equivalents))
            else:
                results.append(ModuleResult(name, 0.0, error="not run (no stored result in --work)"))
            continue
        print(f"== {name}", flush=True)
        results.append(run_module(name, modules[name], args.work, args.max_children, equivalents, skip_lines))
        print(f"   {len(results[-1].mutants)} mutants, {results[-1].count('killed')} killed, "
              f"{results[-1].count('survived')} survived, {results[-1].seconds:.0f} s wall, "
              f"{results[-1].cpu_seconds or 0:.0f} s CPU", flush=True)
    total = sum(r.seconds for r in results) if args.report_only else time.monotonic() - start
    text = report(results, total, "per module in the table" if args.report_only else load)
    print(text)
    path = args.report or report_path(results, list(modules), args.work)
    path.write_text(text)
    if path != HERE / "REPORT.md" and args.report is None:
        print(f"bench/mutation/REPORT.md kept (it is replaced only by a report of every module); this one: {path}")
    return 0 if all(r.error is None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
