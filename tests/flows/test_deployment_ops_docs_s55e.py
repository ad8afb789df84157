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
