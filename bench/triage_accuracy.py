"""Request-type ranking accuracy: how often ``kb.policy.suggest`` puts the right type first.

    .venv/bin/python bench/triage_accuracy.py                 # every table, Markdown report
    .venv/bin/python bench/triage_accuracy.py --misses        # also list each wrong answer
    .venv/bin/python bench/triage_accuracy.py --baseline HEAD # also score suggest.py at HEAD
    .venv/bin/python bench/run.py --only triage               # the same, from the bench

The phrasings are in ``bench/triage/<pack>.tsv`` (see bench/triage/README.md): ``tune``
rows are what the scorer was tuned on, ``held`` rows are held out. Top-1 = the expected
type is the first suggestion; top-3 = it is among the first three. A row whose expected
type is not in the pack's policy (ids change as packs are edited) is reported and counted
as wrong, never skipped silently. Pure computation: no build, no server, no clock.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
TABLES = BENCH / "triage"
PACKS = ("demo", "hsphere", "itpossible", "hsphere-reseller", "kolmisoft")
SETS = ("tune", "held")

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Row:
    line: int
    set: str
    expected: tuple[str, ...]
    text: str


@dataclass
class Pack:
    name: str
    policy: Any  # kb.policy.Policy
    policy_path: Path
    synonyms: tuple[tuple[str, ...], ...]
    rows: list[Row]


@dataclass
class Score:
    n: int = 0
    top1: int = 0
    top3: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        self.n, self.top1, self.top3 = (
            self.n + other.n,
            self.top1 + other.top1,
            self.top3 + other.top3,
        )


def content_dir(pack: str) -> Path:
    return ROOT / "content" if pack == "demo" else ROOT / "examples" / pack


def policy_path(pack: str) -> Path:
    """``examples/<pack>/policy.yaml``, else the older ``examples/policies/<pack>.yaml``."""
    path = content_dir(pack) / "policy.yaml"
    if pack != "demo" and not path.is_file():
        path = ROOT / "examples" / "policies" / f"{pack}.yaml"
    return path


def read_table(pack: str) -> list[Row]:
    path = TABLES / f"{pack}.tsv"
    rows = []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[0] not in SETS or not parts[2].strip():
            raise ValueError(f"{path}:{n}: expected 'tune|held<TAB>type-id<TAB>text'")
        expected = tuple(e.strip() for e in parts[1].split("|") if e.strip())
        rows.append(Row(n, parts[0], expected, parts[2].strip()))
    return rows


def load_pack(pack: str) -> Pack:
    from kb.content import load_synonyms
    from kb.policy.load import load_policy

    path = policy_path(pack)
    policy, problems = load_policy(path)
    if policy is None:
        raise ValueError(f"{path}: {problems[0] if problems else 'cannot be loaded'}")
    root = content_dir(pack)
    if not (root / "synonyms.txt").is_file():  # the old layout served the demo's synonyms
        root = ROOT / "content"
    synonyms = tuple(tuple(group) for group in load_synonyms(root))
    return Pack(pack, policy, path, synonyms, read_table(pack))


def unknown_types(pack: Pack) -> list[str]:
    """Rows naming a request type the pack's policy does not have."""
    return [
        f"{TABLES.name}/{pack.name}.tsv:{row.line}: '{e}' is not a request type of "
        f"{pack.policy_path.relative_to(ROOT)}"
        for row in pack.rows
        for e in row.expected
        if e not in pack.policy.request_types
    ]


Suggest = Callable[..., Sequence[Any]]


def score(pack: Pack, which: str, scorer: Suggest | None = None) -> Score:
    """Top-1 and top-3 of ``scorer`` (default: kb.policy.suggest) on one set of rows."""
    from kb.policy.suggest import suggest as current

    suggest = scorer or current
    result = Score()
    for row in pack.rows:
        if row.set != which:
            continue
        ranked = [s.request_type.id for s in suggest(pack.policy, row.text, synonyms=pack.synonyms)]
        result.n += 1
        if ranked[:1] and ranked[0] in row.expected:
            result.top1 += 1
        else:
            got = ", ".join(ranked[:3]) or "nothing"
            result.misses.append(f"{row.text!r}: expected {'|'.join(row.expected)}, got {got}")
        if set(ranked[:3]) & set(row.expected):
            result.top3 += 1
    return result


def baseline_suggest(rev: str) -> Suggest:
    """``suggest`` from kb/policy/suggest.py as it is at git revision ``rev``."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:kb/policy/suggest.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location("suggest_baseline", fh.name)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    Path(fh.name).unlink()
    return module.suggest  # type: ignore[no-any-return]


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.0f} %)" if whole else "–"


def measure_all(baseline: str | None = None) -> dict[str, Any]:
    packs = [load_pack(p) for p in PACKS]
    try:
        old = baseline_suggest(baseline) if baseline else None
    except (OSError, subprocess.CalledProcessError):  # no git, or no such file there
        old, baseline = None, None
    results: dict[str, Any] = {"packs": {}, "baseline": baseline, "unknown": []}
    for pack in packs:
        results["unknown"] += unknown_types(pack)
        entry = {}
        for which in SETS:
            entry[which] = score(pack, which)
            if old is not None:
                entry[f"{which}-baseline"] = score(pack, which, old)
        results["packs"][pack.name] = entry
    return results


def report_lines(results: dict[str, Any], *, misses: str | None = None) -> list[str]:
    baseline = results["baseline"]
    lines = [
        "",
        "## Request-type ranking (triage)",
        "",
        "`kb.policy.suggest` on the customer phrasings in `bench/triage/<pack>.tsv`, with "
        "each pack's own synonyms: *top-1* = the expected request type is the first "
        "suggestion, *top-3* = among the first three. *held* rows were written before "
        "tuning and never tuned on."
        + (f" *before* = kb/policy/suggest.py at `{baseline}`." if baseline else ""),
        "",
    ]
    head = "| pack | set | phrasings | top-1 | top-3 |"
    rule = "| --- | --- | ---: | ---: | ---: |"
    if baseline:
        head += " top-1 before | top-3 before |"
        rule += " ---: | ---: |"
    lines += [head, rule]
    totals: dict[str, Score] = {}
    for name, entry in results["packs"].items():
        for which in SETS:
            s: Score = entry[which]
            row = f"| {name} | {which} | {s.n} | {_pct(s.top1, s.n)} | {_pct(s.top3, s.n)} |"
            keys = [which] + ([f"{which}-baseline"] if baseline else [])
            if baseline:
                b: Score = entry[f"{which}-baseline"]
                row += f" {_pct(b.top1, b.n)} | {_pct(b.top3, b.n)} |"
            for key in keys:
                totals.setdefault(key, Score()).add(entry[key])
            lines.append(row)
    for which in SETS:
        t = totals[which]
        row = f"| **all** | {which} | {t.n} | {_pct(t.top1, t.n)} | {_pct(t.top3, t.n)} |"
        if baseline:
            b = totals[f"{which}-baseline"]
            row += f" {_pct(b.top1, b.n)} | {_pct(b.top3, b.n)} |"
        lines.append(row)
    if results["unknown"]:
        lines += ["", "Rows naming request types that no longer exist (counted as wrong):", ""]
        lines += [f"- {u}" for u in results["unknown"]]
    if misses:
        for name, entry in results["packs"].items():
            for which in SETS if misses == "all" else (misses,):
                wrong = entry[which].misses
                if wrong:
                    lines += ["", f"### {name}, {which}: wrong first suggestion", ""]
                    lines += [f"- {m}" for m in wrong]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--misses",
        nargs="?",
        const="all",
        choices=("all", *SETS),
        help="list every wrong first answer (of one set: --misses tune)",
    )
    parser.add_argument(
        "--baseline", metavar="REV", help="also score kb/policy/suggest.py at this git revision"
    )
    ns = parser.parse_args(argv)
    results = measure_all(ns.baseline)
    print("\n".join(report_lines(results, misses=ns.misses)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
