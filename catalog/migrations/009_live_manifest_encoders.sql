-- Version 9: a live manifest may pin its encoders (fingerprints, one per kind), as a frozen one can
-- (`lumina catalog manifest create --encoder`). Without a pin, a selection whose samples were encoded
-- by two encoders of one kind (a new encoder for the new shards) got no new version again.
ALTER TABLE live_manifests ADD COLUMN IF NOT EXISTS encoders JSON;  -- a list of fingerprints; NULL: no pin
