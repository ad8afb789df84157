"""A manifest selection of one source's samples: SQL over ``samples`` that a frozen manifest stores.

data_to_model on a user's source selected every accepted sample of the modality, so a workspace that
also held the demo corpus, or another source, trained the source's model on a mixture. The predicate
made here keeps the samples the refresh counts as the source's (queries/source_index.sql,
samples_of_source): an origin within the source (path prefixes, regular expressions of tar globs),
or registered last by a curate, refresh or data_to_model run of the source (a listing's media may lie
anywhere). It is written out in full, with the source's path in it, so the manifest's stored
selection says which samples it froze.
"""

from __future__ import annotations

from typing import Sequence

# the runs whose parameters name the source they read (samples_of_source lists the same ones)
SOURCE_RUN_FLOWS = ("curate", "refresh", "data_to_model")


def sql_text(value: str) -> str:
    """``value`` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def source_samples_predicate(source: str, prefixes: Sequence[str], patterns: Sequence[str]) -> str:
    """A predicate over ``samples`` true for the samples of ``source`` (its source_identity):
    ``prefixes`` and ``patterns`` are where its origins lie (preprocess.refresh.source_scope)."""
    within = [f"starts_with(source_uri, {sql_text(p)})" for p in prefixes]
    within += [f"regexp_full_match(source_uri, {sql_text(p)})" for p in patterns]
    flows = ", ".join(sql_text(f) for f in SOURCE_RUN_FLOWS)
    registered_by_its_runs = (f"last_run IN (SELECT run_id FROM runs WHERE flow_name IN ({flows}) "
                              f"AND parameters->>'source' = {sql_text(source)})")
    return "(" + " OR ".join([*within, registered_by_its_runs]) + ")"
