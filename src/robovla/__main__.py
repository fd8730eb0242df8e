import sys

from robovla.cli.main import main

sys.exit(main())
