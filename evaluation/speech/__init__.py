"""Speech evaluation: spoken-digit judge, mel-cepstral distortion, ASR word error rate, WAV/PNG renders."""
