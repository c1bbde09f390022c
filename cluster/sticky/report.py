"""The text check-sticky prints: one verdict line, then the evidence (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from cluster.sticky.manifest import Finding
from cluster.sticky.verdict import Case, Observations, Verdict, distribution, pinned_to


def verdict_line(verdict: Verdict | None, findings: Sequence[Finding]) -> str:
    """The first line: what the probe saw when it saw stickiness, else what the manifest
    declares, else ``not sticky``."""
    if verdict is not None and verdict.sticky:
        return verdict.line
    return findings[0].verdict if findings else "not sticky"


def evidence(obs: Observations, judged_by: str, elapsed: float) -> list[str]:
    """One line per case: where it came from, how many answers, the backends, pinned or not."""
    lines = [f"  {'case':<36} {'from':<11} {'n':>3}  backends"]
    for case in obs.cases():
        lines.append(_case_line(case))
        if case is obs.jar:
            held = ", ".join(obs.jar_cookies) or "none"
            lines.append(
                f"      (its first answer, with no cookie yet: {obs.jar_first}; jar: {held})"
            )
    lines.extend(f"  note: {note}" for note in obs.notes)
    total = sum(len(c.answers) for c in obs.cases()) + 1
    lines.append(f"  {total} requests in {elapsed:.2f} s, backend named by {judged_by}")
    return lines


def _case_line(case: Case) -> str:
    spread = " ".join(f"{name}={count}" for name, count in distribution(case.backends))
    if case.unnamed:
        spread += f" unnamed={case.unnamed}"
    home = pinned_to(case)
    state = f"pinned to {home}" if home else ("spread" if case.backends else "no answer")
    source = case.source or "default"
    return f"  {case.label:<36} {source:<11} {len(case.answers):>3}  {spread:<28} {state}"


def manifest_lines(path: str, findings: Sequence[Finding]) -> list[str]:
    count = f"{len(findings)} sticky object{'s' if len(findings) != 1 else ''}"
    return [f"manifest {path}: {count if findings else 'nothing sticky declared'}"] + [
        f"  {finding}" for finding in findings
    ]
