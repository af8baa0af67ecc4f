"""Parallel state-machine testing: programs of a prefix and 2-4 branches run on real threads,
their histories checked for linearizability against the sequential models.

* ``history``: operations and calls with their global positions; the recorder.
* ``checker``: Wing & Gong search with Lowe's memoisation, partitioning, a time budget.
* ``timeline``: a history and a failure, for people.
* ``harness``: programs, running them on threads under frozen time, checking each run.
* ``property``: the Hypothesis test, and the effort per profile.
* ``deep``: ``python -m properties parallel``.
* one module per component (its model adapter, steps and driver); ``components`` lists them.
"""
