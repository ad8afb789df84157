"""What docs/deployments.md tells a team running the deployments day to day, checked against the
files that make it true (prefect.yaml, the set-up block). Each statement here was found missing in
a walkthrough of the refresh deployment on a two-minute schedule (session 55, helper E): the
behaviour is Prefect's, so the only fix is that the page says it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deployments.md"


def _section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return " ".join(text[start:end if end > 0 else None].split())  # one line: wrapping is not content


def _refresh_schedule() -> dict:
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    (schedule,) = next(d for d in deployments if d["name"] == "refresh")["schedules"]
    return schedule


def test_the_schedule_section_says_a_deploy_undoes_a_change_or_a_pause_made_on_the_server():
    # `prefect deploy` replaces a deployment's schedules with the yaml's: a cron made with
    # `schedule create` went back to the yaml's, and a paused schedule ran again
    schedule = _refresh_schedule()
    assert schedule.get("active", True), "prefect.yaml's refresh schedule is no longer active: reword the docs' warning"
    section = _section("The refresh schedule")
    assert "replaces the deployment's schedules with `prefect.yaml`'s" in section
    assert f"goes back to `{schedule['cron']}`" in section  # the cron a redeploy brings back
    assert "a paused schedule runs again" in section
    assert re.search(r"redeploy another stage alone with `--name`", section)


def _set_up_block() -> str:
    section = _section("Set up once")
    return section[section.index("```bash"):section.index("```", section.index("```bash") + 3)]


def test_a_run_left_running_on_the_gpu_queue_is_said_to_hold_its_slot_and_how_to_free_it():
    # a worker stopped mid-run leaves its flow run Running: on the gpu queue (limit 1, the set-up's
    # line) every later gpu run stayed Late, silently, until `prefect flow-run cancel` freed the slot
    assert "prefect work-queue create gpu --pool lumina-process --limit 1" in _set_up_block()
    section = _section("Set up once")
    assert "On the `gpu` queue such a run keeps the queue's one slot" in section
    assert "until `prefect flow-run cancel ID`" in section and "which frees the slot" in section


def test_the_stop_recipe_pauses_waits_frees_left_runs_and_stops_worker_and_server():
    section = _section("Set up once")
    recipe = section[section.index("To stop everything between runs"):]
    recipe = recipe[:recipe.index("```", recipe.index("```bash") + 3)]
    steps = ["prefect deployment schedule pause refresh/refresh SCHEDULE_ID", "prefect flow-run ls --state RUNNING",
             "prefect flow-run cancel ID", "the worker: one SIGTERM", "the server: one SIGTERM"]
    positions = [recipe.index(step) for step in steps]  # each is there, in the order to run them
    assert positions == sorted(positions)


def test_the_writer_slot_wait_names_prefects_error_line_beside_each_of_its_own():
    # catalog_writer waits for the slot in steps of WRITER_WAIT_SAY_EVERY_S (a timeout, so it can say
    # so): each timeout makes Prefect's slot service log an ERROR on the worker's console, which a
    # team's log alerts catch; the page says it is the end of one wait, not a failure
    from flows.steps import WRITER_WAIT_SAY_EVERY_S

    section = _section("Set up once")
    assert f"waiting {WRITER_WAIT_SAY_EVERY_S:.0f} s for the lumina-catalog-writer slot" in section
    assert "Service 'ConcurrencySlotAcquisitionWithLeaseService' failed to process item ... TimeoutError" in section
    assert "not a failure" in section
