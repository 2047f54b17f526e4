"""A writer SIGKILLed mid-loop: every record it reported committed is intact, the file is sound."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from core.feedback.store import SQLFeedbackStore

REPO = Path(__file__).resolve().parents[2]
WRITER = textwrap.dedent("""
    import sys
    from core.feedback.store import SQLFeedbackStore
    store = SQLFeedbackStore(sys.argv[1])
    i = 0
    while True:
        oid = store.record_output(session_id="w", page="crash", mode="rag", prompt=f"q{i}",
                                  output="answer " * 50 + str(i), rating="up" if i % 3 else "down")
        if i % 5 == 0:
            store.set_rating(oid, "down", comment=f"c{i}")
        print(oid, i, flush=True)  # printed only AFTER the commit returned
        i += 1
""")


def test_sigkill_mid_write_keeps_every_committed_record(tmp_path):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, url], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    committed: dict[int, int] = {}
    try:
        for line in proc.stdout:
            oid, i = map(int, line.split())
            committed[oid] = i
            if len(committed) >= 150:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # mid-loop: a write is very likely in flight
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()[-500:]
    assert len(committed) >= 150

    raw = sqlite3.connect(tmp_path / "f.db")
    assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    raw.close()
    store = SQLFeedbackStore(url)
    rows = {r.id: r for r in store.list_outputs()}
    for oid, i in committed.items():
        r = rows[oid]
        assert (r.prompt, r.output) == (f"q{i}", "answer " * 50 + str(i))
        expected = "down" if i % 5 == 0 or i % 3 == 0 else "up"
        assert r.rating == expected
        assert r.comment == (f"c{i}" if i % 5 == 0 else None)
    assert len(rows) >= len(committed)  # at most the in-flight write beyond what was reported
    assert store.record_output(session_id="s", page="p", mode="rag", prompt="after",
                               output="still writable") > max(committed)
