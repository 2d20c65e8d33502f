"""Two app nodes started from one checkout compile the message catalogues at the same moment."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import remote_tuk.i18n as i18n


def test_two_processes_compiling_at_once_both_succeed(tmp_path, monkeypatch):
    src = i18n.TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
    target = tmp_path / "en" / "LC_MESSAGES"
    target.mkdir(parents=True)
    shutil.copy(src, target / "messages.po")
    both_written = threading.Barrier(2, timeout=10)
    real_write_mo = i18n.write_mo

    def slow_write_mo(fh, catalog):  # both writers are between writing their file and moving it into place
        real_write_mo(fh, catalog)
        fh.flush()
        both_written.wait()

    monkeypatch.setattr(i18n, "write_mo", slow_write_mo)
    errors: list[BaseException] = []

    def compile_once() -> None:
        try:
            i18n.compile_catalogues(tmp_path)
        except BaseException as err:  # noqa: BLE001 - collected for the assertion
            errors.append(err)

    threads = [threading.Thread(target=compile_once) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert errors == []
    mo = target / "messages.mo"
    from babel.messages.mofile import read_mo

    with mo.open("rb") as fh:
        assert len(read_mo(fh)) > 10
    assert sorted(p.name for p in target.iterdir()) == ["messages.mo", "messages.po"]
    assert not list(Path(tmp_path).rglob("*.tmp"))
