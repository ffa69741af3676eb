"""Where the journal goes by default: never a folder the service cannot write, such as a config mounted
read-only into a container (the monitoring container used to crash-loop on /etc/modelmon)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelmon.config import Config, IngestSettings
from modelmon.service.runtime import data_folder, journal_folder

NOBODY = 65534

# A monitoring service with a MongoDB store (mongomock) and its config in the folder given as
# argv[1]: it takes a batch, and prints where its journal is and what the journal holds.
SERVICE = """
import json, sys
from pathlib import Path
import mongomock
from modelmon.config import load_config
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store

config = load_config(Path(sys.argv[1]) / "modelmon.yml")
store = open_store("mongodb://db:27017/modelmon", client=mongomock.MongoClient())
service = MonitoringService(config, store=store).start()
try:
    batch = service.ingest("m", [{"id": "1", "features": {"x": 1.0}, "prediction": 1.0}])
    folder = str(service.journal.folder)
    print(json.dumps({"accepted": len(batch.rows), "folder": folder, "written": service.journal.written}))
finally:
    service.close()
"""


def _config(tmp_path: Path, folder: Path) -> None:
    folder.mkdir()
    reference = tmp_path / "reference.csv"
    reference.write_text("x,y\n" + "\n".join(f"{i},{i}" for i in range(50)) + "\n")
    model = {"task": "regression", "numerical": ["x"], "prediction": "y", "reference": str(reference)}
    config = {"store": "mongodb://db/modelmon", "models": {"m": model}}
    (folder / "modelmon.yml").write_text(json.dumps(config))


@pytest.mark.slow
def test_a_config_in_a_folder_the_service_cannot_write_puts_the_journal_in_the_data_folder(tmp_path):
    """Real permissions: the config's folder is read-only to the service, as the image's /etc/modelmon is
    to uid 10001. Run as root, the service loses the capabilities that override file permissions and
    the folder belongs to another user."""
    pytest.importorskip("mongomock")
    config_folder, data = tmp_path / "etc", tmp_path / "data"
    _config(tmp_path, config_folder)
    data.mkdir()
    command = [sys.executable, "-c", SERVICE, str(config_folder)]
    if os.getuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("`setpriv` (util-linux) is needed to drop root's override of file permissions")
        os.chown(config_folder, NOBODY, NOBODY)
        command = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", *command]
    config_folder.chmod(0o555)
    environment = {**os.environ, "MODELMON_DATA_DIR": str(data)}
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment)
    finally:
        config_folder.chmod(0o755)
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.splitlines()[-1])
    assert answer["accepted"] == 1 and answer["folder"] == str(data / "journal")
    assert not (config_folder / "modelmon-journal").exists()
    assert (data / "journal").is_dir()


def test_the_default_folder_is_beside_a_writable_config_or_a_sqlite_file_unless_configured(tmp_path):
    config = Config(path=tmp_path / "modelmon.yml")
    assert journal_folder(config, "mongodb://db/modelmon") == tmp_path / "modelmon-journal"
    assert journal_folder(config, "sqlite:///var/m.db") == Path("var/m.db.journal")
    assert journal_folder(config, "memory://") is None
    configured = Config(path=tmp_path / "modelmon.yml", ingest=IngestSettings(journal_dir=tmp_path / "j"))
    assert journal_folder(configured, "mongodb://db/modelmon") == tmp_path / "j"


def test_the_data_folder_follows_the_environment():
    assert data_folder({"MODELMON_DATA_DIR": "/srv/modelmon"}) == Path("/srv/modelmon")
    assert data_folder({"XDG_DATA_HOME": "/home/u/.data"}) == Path("/home/u/.data/modelmon")
    assert data_folder({}) == Path.home() / ".local" / "share" / "modelmon"
