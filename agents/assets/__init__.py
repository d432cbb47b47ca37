"""Site operations (issue 9): IT and fixed assets, issue lists, daily inspections, damage and loss with the
last user, the monthly rates, and off-boarding (第二条 2.5, 第十一条 to 第十三条, 第十五条, 第十六条).

One job per module: :mod:`.registry` (assets and their state machine), :mod:`.issuing` (issue lists and
returns), :mod:`.inspections`, :mod:`.lastuser` (who sat at a seat last), :mod:`.damage`, :mod:`.rates`,
:mod:`.offboarding`. Tables live in :mod:`agents.models`.
"""
