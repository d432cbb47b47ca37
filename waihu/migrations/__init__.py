"""Alembic migrations of every package's tables (one history); run them through waihu.migrate."""
