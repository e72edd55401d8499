"""Merge patches, the backup ring and atomic config writes."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile

from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.reload.writer import (
    backup_paths,
    collect_destructive_array_paths,
    leaf_diff_paths,
    merge_patch,
    render_config,
    stamp_meta,
    write_config_atomic,
)


class MergePatchTests(SynchronousTestCase):
    def test_rfc7396(self) -> None:
        target = {"a": "b", "c": {"d": "e", "f": "g"}}
        patch = {"a": "z", "c": {"f": None}}
        self.assertEqual(merge_patch(target, patch), {"a": "z", "c": {"d": "e"}})
        self.assertEqual(merge_patch({"a": [1, 2]}, {"a": [3]}), {"a": [3]})
        self.assertEqual(merge_patch({"a": "b"}, {"b": {"c": None, "d": 1}}),
                         {"a": "b", "b": {"d": 1}})
        self.assertEqual(target, {"a": "b", "c": {"d": "e", "f": "g"}}, "target untouched")

    def test_arrays_of_id_objects_merge_by_id(self) -> None:
        target = {"list": [{"id": "a", "x": 1, "keep": True}, {"id": "b", "x": 2}]}
        merged = merge_patch(target, {"list": [{"id": "a", "x": 9}, {"id": "c", "x": 3}]})
        self.assertEqual(merged["list"], [{"id": "a", "x": 9, "keep": True},
                                          {"id": "b", "x": 2}, {"id": "c", "x": 3}])
        replaced = merge_patch(target, {"list": [{"id": "c"}]},
                               replace_paths=frozenset({"list"}))
        self.assertEqual(replaced["list"], [{"id": "c"}])

    def test_prototype_keys_are_skipped(self) -> None:
        self.assertEqual(merge_patch({}, {"__proto__": {"x": 1}, "a": 1}), {"a": 1})

    def test_destructive_array_paths(self) -> None:
        base = {"gateway": {"trustedProxies": ["1.1.1.1", "2.2.2.2"]}, "x": {"arr": [1]}}
        patch = {"gateway": {"trustedProxies": ["1.1.1.1"]}, "x": None}
        merged = merge_patch(base, patch)
        self.assertEqual(sorted(collect_destructive_array_paths(base, patch, merged)),
                         ["gateway.trustedProxies", "x.arr"])
        grow = {"gateway": {"trustedProxies": ["1.1.1.1", "2.2.2.2", "3.3.3.3"]}}
        self.assertEqual(collect_destructive_array_paths(base, grow, merge_patch(base, grow)), [])

    def test_leaf_diff(self) -> None:
        self.assertEqual(leaf_diff_paths({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}),
                         ["a.c"])
        self.assertEqual(leaf_diff_paths({"a": 1}, {"a": 1}), [])

    def test_stamp_meta(self) -> None:
        stamped = stamp_meta({"meta": {"lastTouchedAt": "x", "other": 1}}, "9.9.9")
        self.assertEqual(stamped["meta"], {"other": 1, "lastTouchedVersion": "9.9.9"})


class BackupRingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "openclaw.json")

    def read(self, path: str) -> str:
        with open(path, encoding="utf-8") as handle:
            return handle.read()

    def test_ring_of_five_rotates_oldest_out(self) -> None:
        for n in range(8):
            write_config_atomic(self.path, render_config({"n": n}))
        self.assertEqual(self.read(self.path), render_config({"n": 7}))
        ring = backup_paths(self.path)
        self.assertEqual(len(ring), 5)
        # .bak is the previous version, .bak.4 the oldest kept.
        self.assertEqual([self.read(p) for p in ring],
                         [render_config({"n": n}) for n in (6, 5, 4, 3, 2)])
        for path in [self.path, *ring]:
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, path)

    def test_orphans_outside_the_ring_are_removed(self) -> None:
        write_config_atomic(self.path, "{}\n")
        orphan = self.path + ".bak.17"
        with open(orphan, "w") as handle:
            handle.write("old")
        write_config_atomic(self.path, '{"a": 1}\n')
        self.assertFalse(os.path.exists(orphan))
        self.assertTrue(os.path.exists(self.path + ".bak"))

    def test_no_temp_files_left_behind(self) -> None:
        for n in range(3):
            write_config_atomic(self.path, render_config({"n": n}))
        leftovers = [f for f in os.listdir(self.dir) if f.endswith(".tmp")]
        self.assertEqual(leftovers, [])

    def test_first_write_makes_no_backup(self) -> None:
        write_config_atomic(self.path, "{}\n")
        self.assertFalse(os.path.exists(self.path + ".bak"))
