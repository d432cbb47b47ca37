"""Attendance (第十七条, 第十八条): records, leave and its approval chain, the monthly report.

``rules`` is pure computation; ``records`` imports CSV and loads a period; ``leave`` runs the
approval chain; ``report`` assembles a month from the database; ``cli`` is ``waihu attendance``.
"""
