"""``python -m waihu``: the same as the ``waihu`` console command, without installing the package."""

from waihu.cli import main

main()
