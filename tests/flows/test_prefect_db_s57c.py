"""tests/flows/prefect_db_s57c.py: the migrated Prefect database is made once per session and each
test's server gets its own whole copy (a server writing to the template would change every later
test's start). The migration itself is stood in for: the real one runs in the tests that use it
(test_deployment.py, the journeys, tests/services/test_local_prefect.py)."""

import sqlite3

from tests.flows import prefect_db_s57c


def test_the_template_is_migrated_once_and_each_server_gets_its_own_copy(tmp_path, monkeypatch):
    migrated = []

    def migrate(db, home):
        migrated.append(db)
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE alembic_version (version_num TEXT)")
        con.execute("INSERT INTO alembic_version VALUES ('head')")
        con.commit()
        con.close()

    monkeypatch.setattr(prefect_db_s57c, "_migrate", migrate)

    class Factory:
        def getbasetemp(self):
            return tmp_path / "session" / "worker"

    a = prefect_db_s57c.seed_prefect_db(tmp_path / "a" / "prefect.db", Factory())
    b = prefect_db_s57c.seed_prefect_db(tmp_path / "b" / "prefect.db", Factory())
    assert len(migrated) == 1
    con = sqlite3.connect(a)
    con.execute("UPDATE alembic_version SET version_num = 'changed by a server'")
    con.commit()
    con.close()
    read = lambda db: sqlite3.connect(db).execute("SELECT version_num FROM alembic_version").fetchall()  # noqa: E731
    assert read(b) == [("head",)] and read(prefect_db_s57c.template(tmp_path / "session")) == [("head",)]
    # nothing else left beside them (the migration's working folder is removed)
    assert {p.name for p in (tmp_path / "session").iterdir()} == {"prefect-migrated.lock",
                                                                  f"prefect-{prefect_db_s57c.version('prefect')}-migrated.db"}
