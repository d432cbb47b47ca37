"""Waihu's shared foundation: settings, database, migrations, PII vault and masking, audit log, CLI.

Imports nothing of the other packages and builds nothing at import.
"""
