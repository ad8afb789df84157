"""A deployment's parameters are checked when the run starts, not when data first arrives: a misspelt
backend passed every no-op refresh and failed at the first new file; misspelt encode options and
live-manifest keys ended in a bare TypeError naming no valid key."""

from __future__ import annotations

import pytest

from contracts.config import ConfigError
from flows.encode import encode_flow
from flows.refresh import live_from_params, refresh_flow, refresh_source


def test_a_misspelt_backend_fails_the_refresh_at_once(tmp_path):
    with pytest.raises(ValueError, match="backend must be 'ray' or 'local', got 'loacl'"):
        refresh_flow.fn(source=str(tmp_path), home=str(tmp_path / "home"), backend="loacl")
    assert not (tmp_path / "home").exists()


def test_misspelt_encode_options_name_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"encode_options: unknown option\(s\) latnet; latnet: did you mean latent\? \(known: .*latent"):
        refresh_flow.fn(source=str(tmp_path), home=str(tmp_path / "home"), encode_options={"latnet": "identity"})
    with pytest.raises(ConfigError, match=r"unknown option\(s\) latnet; latnet: did you mean latent\? \(known: .*latent"):
        encode_flow.fn(home=str(tmp_path / "home"), options={"latnet": "identity"})


def test_misspelt_live_manifest_keys_name_the_known_ones():
    with pytest.raises(ConfigError, match=r"live_manifests.live: unknown option\(s\) train_min_grwoth; train_min_grwoth: did you mean train_min_growth\? \(known: .*train_min_growth"):
        live_from_params({"live": {"where": "modality = 'image'", "train_min_grwoth": 5}})
    [m] = live_from_params({"live": {"where": "modality = 'image'", "train_min_growth": 5}})
    assert (m.name, m.train_min_growth) == ("live", 5)


def test_an_empty_source_never_refreshed_says_it_lists_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    result = refresh_source(str(tmp_path / "empty"), tmp_path / "home", backend="local")
    assert result.noop
    assert any("lists no entries and the catalog has no samples of it: a mistyped path" in n for n in result.notes), result.notes


def test_a_progress_artifact_the_server_cannot_take_does_not_fail_the_refresh():
    """A Prefect server restarting mid-refresh failed the run at its cosmetic progress update."""
    from flows.refresh import progress_reporter

    calls, records = [], []

    class Log:
        def info(self, msg):
            records.append(("info", msg))

        def warning(self, msg):
            records.append(("warning", msg))

    def down(**kw):
        calls.append(kw)
        raise ConnectionError("All connection attempts failed")

    progress = progress_reporter("artifact-id", Log(), down)
    progress(0.5, "registering")
    progress(0.75, "index")  # not tried again: each try at a server that is down took ~80 s (helper D's walk)
    assert calls == [{"artifact_id": "artifact-id", "progress": 50.0, "description": "registering"}]
    assert records == [("info", "50% registering"), ("warning", "progress artifact not updated (ConnectionError: All "
                                                               "connection attempts failed); the refresh goes on without it"),
                       ("info", "75% index")]
    records.clear()
    progress_reporter("a", Log(), lambda **kw: None)(1.0, "done")
    assert records == [("info", "100% done")]


def test_a_new_live_version_says_its_members_and_what_is_new_since_training():
    """The line read "lumina.manifest.updated image-train-live@v3 (+3, train due: False)" for a v3 of
    25 members after a v2 of 26 (helper D's scheduled-refresh walk): +3 was the count since training
    was last due."""
    from catalog.source_index import ManifestUpdate
    from flows.refresh import announcement

    update = ManifestUpdate("image-train-live", 3, 2, 25, 26, 3, False, {})
    assert announcement(update) == ("lumina.manifest.updated image-train-live@v3 (25 members, was 26 at v2; 3 new since "
                                    "training was last due; train due: no)")
    first = ManifestUpdate("image-train-live", 1, None, 26, 0, 26, True, {}, again=True)
    assert announcement(first) == ("lumina.manifest.updated image-train-live@v1 (26 members; 26 new since training was "
                                   "last due; train due: yes; announced again: a refresh before did not consume it)")
