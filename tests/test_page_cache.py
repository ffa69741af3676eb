import os
import subprocess
import sys
import textwrap

import pytest

from modelmon.page_cache import FOOTER_BYTES, warm

linux_only = pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise on this system")


def _recorded(monkeypatch):
    calls = []
    monkeypatch.setattr(
        os, "posix_fadvise", lambda fd, offset, length, advice: calls.append((offset, length))
    )
    return calls


def test_a_small_file_is_asked_for_whole(tmp_path, monkeypatch):
    path = tmp_path / "small.parquet"
    path.write_bytes(b"x" * 1000)
    calls = _recorded(monkeypatch)
    assert warm(path, head_bytes=1 << 20)
    assert calls == [(0, 0)]


def test_a_large_file_is_asked_for_its_head_and_footer_only(tmp_path, monkeypatch):
    path = tmp_path / "large.parquet"
    size = 64 * FOOTER_BYTES
    with path.open("wb") as file:  # sparse: no disk spent on it
        file.truncate(size)
    calls = _recorded(monkeypatch)
    assert warm(path, head_bytes=4 * FOOTER_BYTES)
    assert calls == [(0, 4 * FOOTER_BYTES), (size - FOOTER_BYTES, FOOTER_BYTES)]


def test_a_missing_file_is_left_to_the_reader(tmp_path, monkeypatch):
    calls = _recorded(monkeypatch)
    assert warm(tmp_path / "absent.parquet", head_bytes=1 << 20) is False
    assert calls == []


def test_without_the_advice_nothing_is_asked(tmp_path, monkeypatch):
    path = tmp_path / "rows.csv"
    path.write_text("a\n1\n")
    monkeypatch.delattr(os, "posix_fadvise", raising=False)
    assert warm(path, head_bytes=1 << 20) is False


@linux_only
def test_the_kernel_takes_the_advice_for_a_file_and_refuses_it_for_a_pipe(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("a\n1\n")
    assert warm(path, head_bytes=1 << 20) is True
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    writer = subprocess.Popen(["sh", "-c", f"sleep 1 > {pipe}"])  # lets the read-only open return
    try:
        assert warm(pipe, head_bytes=1 << 20) is False
    finally:
        writer.wait()


def test_report_asks_for_both_files_before_pandas_is_imported(tmp_path):
    """The point of the advice: the disk reads while the heavy imports run, not after them."""
    import pandas as pd

    reference, current = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    pd.DataFrame({"x": [1.0, 2.0, 3.0] * 20}).to_parquet(reference)
    pd.DataFrame({"x": [1.5, 2.5, 3.5] * 20}).to_parquet(current)
    script = textwrap.dedent(
        """
        import os, sys
        asked = []
        os.posix_fadvise = lambda fd, offset, length, advice: asked.append("pandas" in sys.modules)
        from modelmon.cli import cli
        try:
            cli(sys.argv[1:])
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
        print("ASKED", asked)
        """
    )
    command = [sys.executable, "-c", script, "report", str(reference), str(current), "--sections", "drift"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "ASKED [False, False]" in result.stdout
