"""The multi-view demo: pybullet renders of the objects that ship with pybullet, and the settings
that train a camera-conditioned Flag-DiT on them within the demo's time budget on 2 CPU cores.

Views are frames: [3, V, 16, 16] pixel-space latents (identity encoder; patch 4: 16 tokens and 4
[nextline] per view), a [nextframe] token after each view, and each view's camera vector
(encoders/cameras.camera_vector, 8 numbers) added to its tokens through the model's frame_cond
hook. Each encoded set starts its ring at a hashed view (preprocess/multiview/plugin.ring_start),
so only the camera tells a view's pose. Measured (README.md): 400 steps reach pose accuracy 0.51,
600 steps 0.73 (chance 0.25, the pose judge 0.875 on real renders), object accuracy 0.92.
One training thread: on 2 shared cores two threads ran 4x slower per step than one.
"""

from preprocess.multiview.demo_corpus import write_multiview_corpus

DEMO = {
    "curate_options": {"size": 16},
    "corpus_options": {"num_objects": 240, "views": 4},
    # frame_cond_dim comes from the data: the trainer sizes it from the stored cameras
    "model_overrides": {"dim": 128, "n_layers": 4, "n_heads": 4, "patch_size": 4, "multiple_of": 64},
    "train_steps": 600,
    "train_options": {"num_threads": 1, "max_seconds": 360.0},  # the cap keeps a loaded machine within 10 minutes
    "batch_size": 32,
    "lr": 2e-3,
    "eval_options": {"grid_size": 8, "steps": 20, "cfg_scale": 3.0},  # the guidance its figures were measured at
}


def write_corpus(root, **options):
    return write_multiview_corpus(root, **options).root


__all__ = ["DEMO", "write_corpus"]
