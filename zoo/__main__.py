"""`python -m zoo` runs the `zoo` command line.

The command line lives in `recipes.cli` because `zoo train` drives the recipes;
this entry module is not imported by the `zoo` package, so `zoo` itself still
never depends on `recipes`.
"""

import sys

from recipes.cli import main

sys.exit(main())
