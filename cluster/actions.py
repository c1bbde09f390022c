"""The chaos vocabulary, defined once: what can be done to a node, and what chaos-kill logs.

``Action`` is what a runtime carries out (``Runtime.signal``) and what ``chaos-kill --signal``
names; ``Event`` is the ``action`` field of a chaos-kill log line, which the demo's summary and
the report read back::

    Action      local runtime            docker runtime                  undone by
    KILL        SIGKILL to the group     ``kill`` through the API        restart
    TERM        SIGTERM: drain, exit     ``kill --signal SIGTERM``       restart
    STOP        SIGSTOP: frozen          ``pause`` (cgroup freezer)      CONT
    CONT        SIGCONT                  ``unpause``
    PARTITION   (refused)                off the project network         HEAL
    HEAL        (refused)                back on it, with its alias

Pure: imports nothing but the standard library.
"""

from __future__ import annotations

from enum import StrEnum


class Event(StrEnum):
    """The ``action`` of one chaos-kill log line (lower case, as written to the JSONL file)."""

    KILL = "kill"
    TERM = "term"
    STOP = "stop"
    CONT = "cont"
    PARTITION = "partition"
    HEAL = "heal"
    #: A node chaos took down is being brought back (``--restart-after``).
    RESTART = "restart"
    #: The restarted node is up in the balancer again.
    READY = "ready"
    #: No node may be touched now (``--min-alive``, ``--target``); the reason is logged.
    SKIP = "skip"
    RESTART_FAILED = "restart-failed"


class Action(StrEnum):
    """What a runtime can do to one node (the upper-case names of ``--signal``)."""

    KILL = "KILL"
    TERM = "TERM"
    STOP = "STOP"
    CONT = "CONT"
    PARTITION = "PARTITION"
    HEAL = "HEAL"

    @property
    def event(self) -> Event:
        """The log line's ``action`` for this one."""
        return Event(self.value.lower())

    @property
    def undo(self) -> Action | None:
        """The action that reverts this one in place (``None``: a restart brings it back)."""
        return _UNDO.get(self)


_UNDO = {Action.STOP: Action.CONT, Action.PARTITION: Action.HEAL}

#: What ``chaos-kill --signal`` may choose (CONT and HEAL only ever undo).
CHAOS_ACTIONS = (Action.KILL, Action.TERM, Action.STOP, Action.PARTITION)
#: What a process can take: the local runtime's signals.
PROCESS_ACTIONS = (Action.KILL, Action.TERM, Action.STOP, Action.CONT)
#: Network actions: the docker runtime only (a container network).
NETWORK_ACTIONS = (Action.PARTITION, Action.HEAL)
