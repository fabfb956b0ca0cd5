"""`python -m local.smoke --url ...` (TOKEN in the environment): what `make smoke` runs."""

import sys

from local.smoke.runner import main

sys.exit(main())
