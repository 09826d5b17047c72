"""`python -m prosumer_client --help`

The process ends with `os._exit` once output is flushed: nothing is left to finalise (every
connection is closed by the command), and tearing down an interpreter that imported web3 costs
~0.15 s of CPU. When the 200 agents of a market stop together at a game's end, that was ~10 s of
both cores, just when the clock fixes the trades.
"""

import os
import sys

from .cli import main

code = main()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
