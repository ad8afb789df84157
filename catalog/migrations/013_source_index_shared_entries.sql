-- Version 13: an entry two inputs share (a caption beside take01.wav and a converted take01.flac, or
-- the metadata line that names both) records its other inputs. The index kept one input per entry
-- (the last that has it), so a refresh that found such a caption removed curated that input again
-- and the other take kept its old transcript. NULL: the entry has one input (every row before v13;
-- a refresh fills the column in as it lists the source again). Idempotent.
ALTER TABLE source_index ADD COLUMN IF NOT EXISTS also_inputs VARCHAR[];
