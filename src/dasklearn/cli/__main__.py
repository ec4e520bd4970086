import sys

from dasklearn.cli import main

sys.exit(main())
