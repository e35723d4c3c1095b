"""`python -m cli` is `mallcrm`."""

from cli import main

main()
