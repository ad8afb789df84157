"""Image-text: the only place that knows image file formats."""
