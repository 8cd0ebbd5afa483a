import sys

from memcosim.cli import main

sys.exit(main())
