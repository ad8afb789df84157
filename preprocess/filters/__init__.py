"""Filters shared by modalities: technical quality (no weights) and CLIP-based scores.

Video and multi-view reuse the image scorers per frame / view.
"""
