"""`python -m prosumer_client --help`"""

import sys

from .cli import main

sys.exit(main())
