"""The Lumina catalog: a DuckDB file that records every sample, verdict, shard, encoding,
manifest, checkpoint and metric. See catalog/README.md for the tables and the rules."""

from .columnar import ColumnarBatch
from .db import Catalog, ManifestNotFoundError, SampleNotFoundError, code_version
from .errors import CatalogBusyError, CatalogError, CatalogNotFoundError, SchemaVersionError
from .manifest import Manifest, ManifestHeader, ManifestMember, ManifestOverview, load_manifest, load_manifest_header
from .paths import default_catalog_path, default_home
from .records import Batch, EncodingRecord, SampleRecord, ShardRecord, VerdictRecord
from .sandbox import RefusedSQLError
from .sqlfiles import schema_version

__all__ = [
    "Batch",
    "Catalog",
    "CatalogBusyError",
    "CatalogError",
    "CatalogNotFoundError",
    "ColumnarBatch",
    "EncodingRecord",
    "Manifest",
    "ManifestHeader",
    "ManifestOverview",
    "ManifestMember",
    "ManifestNotFoundError",
    "RefusedSQLError",
    "SampleNotFoundError",
    "SampleRecord",
    "SchemaVersionError",
    "ShardRecord",
    "VerdictRecord",
    "code_version",
    "default_catalog_path",
    "default_home",
    "load_manifest",
    "load_manifest_header",
    "schema_version",
]
