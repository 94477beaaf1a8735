"""``python -m lassoboot ARGS`` (and the ``lassoboot`` console script): the packaged binary."""

import os
import sys

from . import LassobootError, binary


def main() -> None:
    try:
        path = binary()
    except LassobootError as e:
        sys.exit(f"lassoboot: {e}")
    os.execv(path, [path, *sys.argv[1:]])


if __name__ == "__main__":
    main()
