"""The encoders that say thread_safe give, called from several threads at once (as the encode stage
calls them, encoders/threads.py), what they give one call at a time."""

from __future__ import annotations

import pytest

from encoders.threads import one_thread_map
from tests.encoders.tiny_models import save_hf_clip_text, save_llama, save_open_clip

CAPTIONS = [f"a {c} {s} number {i} drawn in the middle of the picture" for i, (c, s) in
            enumerate((c, s) for c in ("red", "blue", "green") for s in ("circle", "square", "triangle", "star"))]


@pytest.mark.parametrize("kind", ["open_clip", "hf_clip", "llama", "minilm"])
def test_text_encoders_in_threads_give_what_they_give_one_call_at_a_time(kind, tmp_path):
    from encoders.text import load_text_encoder

    if kind == "minilm":
        enc = load_text_encoder("minilm")
    else:
        save = {"open_clip": save_open_clip, "hf_clip": save_hf_clip_text, "llama": save_llama}[kind]
        enc = load_text_encoder("llama" if kind == "llama" else "clip", save(tmp_path / kind), layer=-2, max_tokens=16)
    assert enc.thread_safe
    batches = [CAPTIONS[i : i + 3] for i in range(0, len(CAPTIONS), 3)]

    def features(captions):
        t = enc.encode(captions, warn_truncated=False)
        return t.feats.tobytes(), t.mask.tobytes(), t.pooled.tobytes(), t.dropped.tolist()

    one_at_a_time = one_thread_map(features, batches, workers=1)
    assert one_thread_map(features, batches * 8, workers=4) == one_at_a_time * 8  # open_clip unlocked: wrong in ~2 of 5 runs of 12 calls


def test_two_open_clip_calls_that_meet_inside_the_hooked_block_each_get_their_own_features(tmp_path):
    """open_clip's token features come from a forward hook on a shared block: a call whose forward passed the
    block while another call's hook was registered wrote into that call's features. The interleaving is
    forced: both calls meet at a barrier before the hooked block (both hooks registered), one passes the block
    and waits before the next one until the other has passed it too. Under encoders/clip.py's lock the two
    never meet (the barrier times out once and each call runs alone)."""
    import threading

    from encoders.text import load_text_encoder

    enc = load_text_encoder("clip", save_open_clip(tmp_path / "open_clip"), layer=-2, max_tokens=16)
    batches = [CAPTIONS[:3], CAPTIONS[3:6]]

    def features(captions):
        return enc.encode(captions, warn_truncated=False).feats.tobytes()

    alone = [features(b) for b in batches]
    hooked, after = enc.clip._blocks[-2], enc.clip._blocks[-1]  # layer -2: the hook is on the last block but one
    meet, early_past, late_past, role = threading.Barrier(2, timeout=3), threading.Event(), threading.Event(), threading.local()

    def before_hooked(module, args):
        try:
            role.late = meet.wait() == 0  # both calls here: both hooks are registered
        except threading.BrokenBarrierError:  # the calls do not overlap (the lock)
            role.late = None
        if role.late:
            early_past.wait(timeout=10)

    def before_after(module, args):
        if role.late is False:  # the early call has passed the hooked block: it waits until the late one has too
            early_past.set()
            late_past.wait(timeout=10)
        elif role.late:
            late_past.set()

    handles = [hooked.register_forward_pre_hook(before_hooked), after.register_forward_pre_hook(before_after)]
    try:
        assert one_thread_map(features, batches, workers=2) == alone
    finally:
        for h in handles:
            h.remove()
