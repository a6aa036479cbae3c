"""``python -m akida_nb.docs OUTDIR``: build the documentation site (see :mod:`akida_nb.docs`)."""
import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
