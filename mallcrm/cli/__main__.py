"""`python -m mallcrm.cli` is `mallcrm`."""

from mallcrm.cli import main

main()
