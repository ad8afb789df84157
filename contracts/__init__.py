"""The ground floor: records, keys, shard I/O and member names, workspace layout, the offline
environment. Every package may import this one; it imports none of ours."""

from contracts.env import OFFLINE_ENV, apply_offline_env
from contracts.keys import file_sha256, sample_key, split_of
from contracts.layout import Workspace, default_catalog_path, default_home
from contracts.records import MODALITIES, Batch, EncodingRecord, Modality, SampleRecord, ShardRecord, VerdictRecord

__all__ = [
    "MODALITIES", "OFFLINE_ENV", "Batch", "EncodingRecord", "Modality", "SampleRecord", "ShardRecord", "VerdictRecord",
    "Workspace", "apply_offline_env", "default_catalog_path", "default_home", "file_sha256", "sample_key", "split_of",
]
