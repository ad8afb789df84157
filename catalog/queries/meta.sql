-- Schema bookkeeping and catalog introspection.

-- name: schema_version_exists
SELECT count(*) FROM information_schema.tables
WHERE table_schema = 'main' AND table_name = 'schema_version';

-- name: current_schema_version
SELECT coalesce(max(version), 0) FROM schema_version;

-- name: record_migration
INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?);

-- name: relation_type
SELECT table_type FROM information_schema.tables
WHERE table_schema = 'main' AND table_name = ?;

-- name: list_relations
SELECT table_name, table_type FROM information_schema.tables
WHERE table_schema = 'main' ORDER BY table_type, table_name;
