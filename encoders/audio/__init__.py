"""Audio codecs shared by curation, evaluation and sampling: the log-mel spectrogram and its inverse."""
