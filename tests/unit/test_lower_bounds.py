"""pyproject's lower bounds cover the names the code imports (tools/check_lower_bounds.py)."""

import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "check_lower_bounds.py"


def test_lower_bounds_cover_the_code():
    done = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "all bounds cover the code" in done.stdout


def test_lowest_pins_every_bound():
    done = subprocess.run(
        [sys.executable, str(TOOL), "--lowest"], capture_output=True, text=True, timeout=60
    )
    assert "'langgraph==1.2'" in done.stdout and "'langsmith==0.4'" in done.stdout
