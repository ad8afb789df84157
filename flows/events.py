"""Prefect events the pipeline emits. ``lumina.manifest.updated``: a live manifest got a new version.

The resource is the manifest (``lumina.manifest.<name>``); its label ``lumina.train.due`` says
whether the manifest grew by its configured number of members since training was last due, which
is what the ``train`` deployment's trigger in prefect.yaml matches (a trigger matches labels, it
cannot compare numbers, so the comparison happens here). The payload carries what the triggered
run needs: the pinned manifest id, the workspace and the training options.
"""

from __future__ import annotations

from typing import Any

MANIFEST_UPDATED = "lumina.manifest.updated"


def manifest_event(update, home: str) -> dict[str, Any]:
    """The event for a catalog.source_index.ManifestUpdate, as emit_event's keyword arguments."""
    return {
        "event": MANIFEST_UPDATED,
        "resource": {
            "prefect.resource.id": f"lumina.manifest.{update.name}",
            "prefect.resource.name": update.name,
            "lumina.manifest.live": "true",
            "lumina.train.due": "true" if update.train_due else "false",
        },
        "payload": {
            "manifest": update.id, "name": update.name, "version": update.version,
            "previous_version": update.previous_version, "num_members": update.num_members,
            "previous_members": update.previous_members, "added_since_training": update.added_since_training,
            "train_due": update.train_due, "home": home, "train_options": update.train_options,
        },
    }


def emit_manifest_updated(update, home: str) -> str | None:
    """Emit the event (needs a Prefect API: inside a flow run, or PREFECT_API_URL); returns its id."""
    from prefect.events import emit_event

    event = emit_event(**manifest_event(update, home))
    return str(event.id) if event is not None else None
