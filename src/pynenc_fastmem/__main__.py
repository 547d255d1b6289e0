"""Command line: ``python -m pynenc_fastmem demo [TASKS]``."""

import sys


def main(argv: list[str]) -> int:
    """Run the command named in ``argv``; return the exit status."""
    if not argv or argv[0] != "demo" or len(argv) > 2:
        print("usage: python -m pynenc_fastmem demo [TASKS]", file=sys.stderr)
        return 2
    from .demo import run

    run(int(argv[1]) if len(argv) == 2 else 3000)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
