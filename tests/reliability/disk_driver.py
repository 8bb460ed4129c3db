"""Run the steps of a fault case one after the other and report what each saw and left behind:
``disk_driver.py FOLDER STEPS.json REPORT.json``. Run inside a private namespace where FOLDER is a
small or read-only filesystem that vanishes with it, hence the report.

A step is ``{"argv": [...], "env": {...}}`` (a command), ``{"rm": path}`` or ``{"sh": command}``.
After each, the report has its exit code and output and a snapshot of FOLDER: every file with its
size, and each history's trials and status.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def snapshot(folder: Path) -> dict:
    files = {}
    histories = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            rel = str(path.relative_to(folder))
            files[rel] = path.stat().st_size if path.exists() else -1
            if name == "history.sqlite":
                histories[rel] = history(path)
    return {"files": files, "histories": histories}


def history(path: Path) -> dict:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            trials = [list(r) for r in db.execute("SELECT idx, fingerprint, status FROM trials ORDER BY idx")]
            meta = dict(db.execute("SELECT key, value FROM run"))
        return {"trials": trials, "status": json.loads(meta.get("status", "null"))}
    except sqlite3.Error as exc:
        return {"error": str(exc)}


def main() -> None:
    folder, steps, report = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text()), Path(sys.argv[3])
    out = []
    for step in steps:
        if "argv" in step:
            done = subprocess.run(
                step["argv"],
                capture_output=True,
                text=True,
                env={**os.environ, **step.get("env", {})},
                timeout=300,
            )
            entry = {"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr}
        elif "rm" in step:
            os.remove(step["rm"])
            entry = {}
        else:
            entry = {"rc": subprocess.run(step["sh"], shell=True).returncode}
        out.append({**entry, "state": snapshot(folder)})
    report.write_text(json.dumps(out))


if __name__ == "__main__":
    main()
