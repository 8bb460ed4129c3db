"""The README's set-up promises, checked against the noxfile they rely on."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
NOXFILE = (ROOT / "noxfile.py").read_text()


def _setup_section() -> str:
    return README.split("## Set up", 1)[1].split("\n## ", 1)[0]


def _default_sessions() -> list[str]:
    """``nox.options.sessions`` as the noxfile sets it (read, not imported: nox is not installed here)."""
    for node in ast.walk(ast.parse(NOXFILE)):
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "nox.options.sessions":
            return list(ast.literal_eval(node.value))
    raise AssertionError("noxfile.py sets no nox.options.sessions")


def test_setup_has_exactly_the_two_commands_demo_and_the_whole_suite():
    block = _setup_section().split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert commands == [
        "python3 -m pip install -q nox && python3 -m nox -s demo",
        "python3 -m pip install -q nox && python3 -m nox",
    ]
    assert re.search(r"^def demo\(session", NOXFILE, flags=re.M)  # the session exists


def test_setup_states_disk_root_and_time_for_every_default_session():
    section = _setup_section()
    disk = section.split("- **disk**", 1)[1].split("\n- ", 1)[0]
    assert "GB" in disk and "`.nox/`" in disk
    for session in _default_sessions():
        assert re.search(rf"\b{session}\s+\d", disk), f"the disk line does not size the {session} session"
    assert "apt-get" in section and "`report` and `ui`" in section and "root" in section
    assert "apt-get" in NOXFILE and "os.geteuid() != 0" in NOXFILE  # what the README says about them
    assert re.search(r"- \*\*time\*\*: \d+ to \d+ minutes on 2 cores", section)


def test_readme_says_where_tensorboard_goes():
    assert "`tensorboard: true` (a top-level key of the YAML" in README
    assert '"tensorboard"' in (ROOT / "lpot-core/src/lpot/config/loader.py").read_text()
