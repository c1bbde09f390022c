"""``paradox``: the JWT revocation modes measured side by side.

``run`` (the command), ``options``, ``lane`` (the processes of one mode), ``phases`` and ``probe``
(the measurements), ``stats``, ``report``.
"""
