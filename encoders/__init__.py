"""Encoders: media -> latents and captions -> text features, shared by preprocess, training and evaluation.

Top-level (not under preprocess/) because training draws latents from stored moments and evaluation
decodes them, and neither may import preprocess/. Nothing here downloads: every loader takes a local path.
"""
