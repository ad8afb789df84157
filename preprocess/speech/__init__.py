"""Speech: audio curation, log-mel spectrograms and the demo corpus."""
