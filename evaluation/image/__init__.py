"""Image evaluation: class accuracy of generated digits (judged by a classifier trained on real
held-out digits) and a PNG grid of samples for held-out captions."""
