"""Merge cells measured into a side file into a results file; the cells they replace go aside.

A grid row is often rerun into a file of its own (two jobs at once, or a new commit's
defaults beside the old ones). This moves that file's cells into the results file the
report reads, keeping every replaced cell in an ``--aside`` file (nothing measured is
lost), and records the command in the results' ``meta.commands``:

  python bench/merge.py --into bench/results/bench_medium.json \\
      --aside bench/results/bench_medium_flowpo_session12.json runs/s14/flowpo_s13_*.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cell_key, load_results  # noqa: E402


def merge(
    into: Path, aside: Path, sources: list[Path], command: str, retire: frozenset[str] = frozenset()
) -> tuple[int, int]:
    """Merge the ok cells of ``sources`` into ``into``; return (merged, moved aside).

    Every cell of a ``retire`` method (an arm that is gone) goes aside too.
    """
    data, kept = load_results(into), load_results(aside)
    new = [c for src in sources for c in load_results(src)["cells"] if c.get("status") == "ok"]
    keys = {cell_key(c) for c in new}
    keys |= {cell_key(c) for c in data["cells"] if c["method"] in retire}
    replaced = [c for c in data["cells"] if cell_key(c) in keys]
    kept["cells"] = [c for c in kept["cells"] if cell_key(c) not in keys] + replaced
    kept.setdefault("meta", {"note": f"cells of {into.name} replaced by later runs"})
    data["cells"] = [c for c in data["cells"] if cell_key(c) not in keys] + new
    meta = data.setdefault("meta", {})
    meta["commands"] = [*meta.get("commands", []), command]
    meta["updated"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    for path, content in ((aside, kept), (into, data)):
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(content, indent=1, ensure_ascii=False))
        tmp.replace(path)
    return len(new), len(replaced)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="*", type=Path, help="results files to merge in")
    parser.add_argument("--retire", default="", help="comma-separated methods to move aside")
    parser.add_argument("--into", type=Path, required=True, help="the results file")
    parser.add_argument("--aside", type=Path, required=True, help="where replaced cells go")
    args = parser.parse_args()
    missing = [str(p) for p in args.sources if not p.is_file()]
    if missing:
        parser.error(f"sources: no such file {', '.join(missing)}")
    command = "python bench/merge.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    retire = frozenset(m for m in args.retire.split(",") if m)
    merged, moved = merge(args.into, args.aside, args.sources, command, retire)
    print(f"merged {merged} cells into {args.into}; {moved} replaced cells kept in {args.aside}")


if __name__ == "__main__":
    main()
