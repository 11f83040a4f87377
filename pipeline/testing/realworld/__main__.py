"""``python -m pipeline.testing.realworld --split dev --out DIR [--seed N] [--count N]``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from pipeline.testing.realworld.corpus import FAMILIES, ROTATION, TEST_COUNT, TEST_SEED, generate_split
from pipeline.testing.realworld.world import SPLITS


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.testing.realworld",
        description="Write a split of the realistic corpus (images + truth.json with a family per image).",
    )
    parser.add_argument("--split", choices=SPLITS, default="dev", help="dev (tune on it) or test (frozen)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, help=f"default: 1 for dev, {TEST_SEED} for test")
    parser.add_argument(
        "--count", type=int, help=f"images (default {len(ROTATION) * 2} dev, {TEST_COUNT} test)"
    )
    parser.add_argument("--families", help=f"comma-separated subset of: {','.join(FAMILIES)}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the split; prints one line per written image."""
    args = build_parser().parse_args(argv)
    seed = args.seed if args.seed is not None else (TEST_SEED if args.split == "test" else 1)
    count = args.count or (TEST_COUNT if args.split == "test" else len(ROTATION) * 2)
    families = tuple(f.strip() for f in args.families.split(",")) if args.families else ()
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        raise SystemExit(f"unknown families {unknown}; known: {', '.join(FAMILIES)}")
    written = generate_split(args.out, split=args.split, seed=seed, count=count, families=families)
    for name, (family, truth) in written.items():
        print(f"{args.out / name}\t{family}\t{len(truth.shows)} shows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
