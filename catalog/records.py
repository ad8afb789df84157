"""The record contracts live on the ground floor (contracts/records.py); re-exported for catalog users."""

from contracts.records import *  # noqa: F401,F403
from contracts.records import BATCH_SUFFIX, MODALITIES, SHARD_STAGES, STATUSES, Batch, EncodingRecord, Modality, SampleRecord, ShardRecord, VerdictRecord  # noqa: F401
