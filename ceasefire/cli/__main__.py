"""`python -m ceasefire.cli ...`"""

import sys

from ceasefire.cli.app import main

sys.exit(main())
