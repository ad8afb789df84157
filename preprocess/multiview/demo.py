"""The multi-view demo: pybullet renders of the objects that ship with pybullet, and the settings
that train a camera-conditioned Flag-DiT on them within the demo's time budget on 2 CPU cores.

Views are frames: [3, V, 32, 32] pixel-space latents (identity encoder), a [nextframe] token after
each view, and each view's camera vector (preprocess/multiview/cameras.camera_vector, 8 numbers)
added to its tokens through the model's frame_cond hook.
"""

from preprocess.multiview.cameras import CAMERA_DIM
from preprocess.multiview.demo_corpus import write_multiview_corpus

DEMO = {
    "curate_options": {"size": 32},
    "corpus_options": {"num_objects": 240, "views": 4},
    "model_overrides": {"dim": 128, "n_layers": 4, "n_heads": 4, "patch_size": 8, "multiple_of": 64,
                        "frame_cond_dim": CAMERA_DIM},
    "train_steps": 800,
    "batch_size": 32,
    "lr": 1e-3,
    "eval_options": {"grid_size": 8, "steps": 20},
}


def write_corpus(root, **options):
    return write_multiview_corpus(root, **options).root


__all__ = ["DEMO", "write_corpus"]
