"""``cluster check-sticky URL``: does the balancer at URL pin clients, and by what?

    cluster check-sticky URL [--requests N] [--header NAME | --json-field NAME]
                             [--addresses K] [--timeout S] [--manifest FILE]

The first line printed is the verdict: ``not sticky``, ``sticky by cookie NAME`` or ``sticky by
client address`` (a manifest that hashes on something else gives ``sticky by hash of KEY``);
the evidence follows. Exit 0 not sticky, 3 sticky (seen, or declared in the manifest), 2 when it
cannot tell: URL unreachable, no answer naming its backend, only one backend seen.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cluster.sticky import probe
from cluster.sticky.manifest import Finding, ManifestError, lint
from cluster.sticky.report import evidence, manifest_lines, verdict_line
from cluster.sticky.transport import Target, http_sender
from cluster.sticky.verdict import Unjudgeable, judge

NOT_STICKY, STICKY, ERROR = 0, 3, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cluster check-sticky",
        usage="%(prog)s URL [--requests N] [--header NAME | --json-field NAME] [--addresses K]"
        " [--timeout S] [--manifest FILE]",
        description="Find out from outside whether a balancer pins clients to a backend: by"
        " cookie, by client address, or not at all.",
        epilog="exit status: 0 not sticky, 3 sticky, 2 cannot tell (error)",
    )
    parser.add_argument(
        "url", metavar="URL", help="a URL behind the balancer, e.g. http://127.0.0.1:8080/healthz"
    )
    parser.add_argument(
        "--requests",
        type=_bounded(4, 1000),
        default=probe.DEFAULT_REQUESTS,
        metavar="N",
        help="requests per case (default %(default)s)",
    )
    named = parser.add_mutually_exclusive_group()
    named.add_argument(
        "--header", default="X-Served-By", metavar="NAME", help="header naming the backend"
    )
    named.add_argument(
        "--json-field", metavar="NAME", help="JSON body field naming the backend (a.b nests)"
    )
    parser.add_argument(
        "--addresses",
        type=_bounded(2, 64),
        default=probe.DEFAULT_ADDRESSES,
        metavar="K",
        help="loopback source addresses to send from (default %(default)s)",
    )
    parser.add_argument(
        "--timeout", type=float, default=2.0, metavar="S", help="per request (default 2 s)"
    )
    parser.add_argument(
        "--manifest",
        metavar="FILE",
        help="Kubernetes YAML (one or more documents, - for stdin) to lint too",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        findings = _findings(args.manifest) if args.manifest else []
        target = Target.parse(args.url)
        sources = probe.default_sources(args.addresses) if target.on_loopback() else ("",)
        identify, judged_by = _identify(args)
        started = time.monotonic()
        plan = probe.Plan(args.requests, sources)
        obs = probe.run(http_sender(target, args.timeout), identify, plan)
        lines = evidence(obs, judged_by, time.monotonic() - started)
    except (probe.ProbeError, ManifestError) as exc:
        return _fail(str(exc))
    try:
        verdict = judge(obs)
    except Unjudgeable as exc:
        print("\n".join(["evidence:", *lines]))
        return _fail(f"cannot judge: {exc}")
    print(verdict_line(verdict, findings))
    print(f"probe {target.url}: {verdict.line}: {verdict.reason}")
    print("\n".join(lines))
    if args.manifest:
        print("\n".join(manifest_lines(args.manifest, findings)))
    return STICKY if verdict.sticky or findings else NOT_STICKY


def _findings(path: str) -> list[Finding]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from exc
    try:
        return lint(text)
    except ManifestError as exc:
        raise ManifestError(f"{path}: {exc}") from exc


def _identify(args: argparse.Namespace) -> tuple[probe.Identify, str]:
    if args.json_field:
        return probe.by_json_field(args.json_field), f"JSON field {args.json_field}"
    return probe.by_header(args.header), f"header {args.header}"


def _fail(message: str) -> int:
    print(f"cluster check-sticky: {message}", file=sys.stderr)
    return ERROR


def _bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high], else a usage error naming the bounds."""

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse
