"""Work IDs (工号), roles and permissions, authentication, agent sessions and states, attendance.

Depends only on ``waihu``. Other packages check permissions through :func:`agents.permissions.require`.
"""
