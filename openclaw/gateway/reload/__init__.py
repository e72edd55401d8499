"""Config hot reload, in-process restart and config writes for the running gateway.

* :mod:`.rules` -- the reload rule table, the config diff and the reload plan (pure);
* :mod:`.watcher` -- ``ConfigWatcher``: inotify on the config's directory, polling elsewhere;
* :mod:`.coordinator` -- ``ReloadCoordinator``: debounce, coalesce, read, decide per mode;
* :mod:`.runtime` -- ``ReloadRuntime``: the coordinator's hooks against a ``GatewayService``
  (atomic swap, service reconfiguration, auth rotation, health), config writes, secrets;
* :mod:`.supervisor` -- ``GatewaySupervisor``: the top service; restarts in-process or exits 0;
* :mod:`.writer` -- merge patches, the ``.bak`` ring, atomic replacement (blocking helpers).

See ``docs/reload.md`` for the operator's view.
"""
