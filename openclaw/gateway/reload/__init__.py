"""Config hot reload and config writes for the running gateway (the in-process restart is
:mod:`openclaw.gateway.supervisor`, the tree's parent).

* :mod:`.rules` -- the reload rule table, the config diff and the reload plan (pure);
* :mod:`.watcher` -- ``ConfigWatcher``: inotify on the config's directory, polling elsewhere;
* :mod:`.coordinator` -- ``ReloadCoordinator``: debounce, coalesce, read, decide per mode;
* :mod:`.runtime` -- ``ReloadRuntime``: the coordinator's hooks against the tree it serves
  (atomic swap, service reconfiguration, auth rotation, health), config writes, secrets;
* :mod:`.writer` -- merge patches, the ``.bak`` ring, atomic replacement (blocking helpers).

See ``docs/reload.md`` for the operator's view.
"""
