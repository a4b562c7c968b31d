"""``overdue demo`` end to end on a small book: illustrative states, batch, models, strategies,
report, store, and the web app it serves at the end."""

from __future__ import annotations

import json
import os
import queue
import socket
import sqlite3
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

DEMO_TIMEOUT_S = 1500


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _read_lines(stream: object, lines: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)


def _run_until_served(out: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("OVERDUE_NO_SERVE", None)
    command = [sys.executable, "-m", "overdue", "demo", "--out", str(out), "--accounts", "300"]
    command += ["--days", "3", "--port", str(port)]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=DEMO_TIMEOUT_S)
        except queue.Empty:
            proc.kill()
            pytest.fail("the demo printed nothing for too long:\n" + "".join(seen[-40:]))
        seen.append(line)
        if "Web app" in line:
            for _ in range(8):  # the logins follow the address
                seen.append(lines.get(timeout=60))
            return proc, "".join(seen)
        if proc.poll() is not None and lines.empty():
            pytest.fail("the demo ended without serving:\n" + "".join(seen[-60:]))


def _wait_healthy(port: int) -> int:
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                return int(resp.status)
        except OSError:
            threading.Event().wait(0.5)
    return 0


@pytest.mark.slow
def test_small_demo_writes_everything_then_serves(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    port = _free_port()
    proc, stdout = _run_until_served(out, port)
    try:
        assert _wait_healthy(port) == 200
        assert f"http://127.0.0.1:{port}/" in stdout
        for role in ("admin", "manager", "analyst", "collector", "agency", "auditor"):
            assert f"  {role}" in stdout, role
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    states = json.loads((out / "illustrative_states.json").read_text(encoding="utf-8"))
    assert {s["status"] for s in states.values()} >= {
        "current",
        "overdue",
        "settled",
        "charged_off",
    }
    assert "D13" in stdout and "charged_off" in stdout
    snapshots = sorted(p.name for p in (out / "snapshots").iterdir() if p.name.startswith("as_of="))
    assert snapshots[-3:] == ["as_of=2024-12-29", "as_of=2024-12-30", "as_of=2024-12-31"]
    assert len(snapshots) == 11 + 3  # month ends before the window, then the window's days
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Overdue monitoring report" in page and '<script src="http' not in page
    assert "Models on this book" in page and "Strategies per arm" in page
    assert str(out / "report.html") in stdout.replace("\n", "")
    strategies = json.loads((out / "strategies" / "demo_strategies.json").read_text())
    assert set(strategies["strategies"]) == {"strategy", "vs"}
    with sqlite3.connect(out / "overdue.db") as db:
        (cases,) = db.execute("select count(*) from cases").fetchone()
        (users,) = db.execute("select count(*) from users").fetchone()
    assert cases > 0 and users >= 7
    bureau = json.loads((out / "bureau" / "bureau-2024-12.json").read_text(encoding="utf-8"))
    assert bureau["pboc_accounts"] > 0 and "Credit-bureau extract" in stdout
    assert (out / "bureau" / "pboc-2024-12.csv").is_file()
    assert (out / "daily-2024-12-31.xlsx").is_file() and "Daily report" in stdout
