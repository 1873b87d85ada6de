"""A model trained once with a fixed recipe and kept in the data cache, like downloaded weights:
the digit judge of the generative exercises (:mod:`seminar.judge`) and the deep-features
chapter's pretrained network (:mod:`seminar.pretrained`).

The cache holds ``STEM-<sha>.keras`` and the record ``STEM.json`` naming it, with its sha256, the
recipe's version and settings and the test accuracy measured when it was trained. A model is
trusted for what it does, measured each time it is loaded, not for its record:

1. its accuracy on the test images, measured again (the record's number is not read), must reach
   the recipe's floor (``minimum``);
2. its behaviour check (``verify(result)``) must pass: the digit judge must score its own
   baselines as a working judge does (real digits at FID below 10; blurred digits, noise and the
   mean image far above: :data:`seminar.judge.BASELINE_BOUNDS`); the pretrained network's logits
   must be its features through its last layer, and its features alone must tell the classes
   apart (:func:`seminar.pretrained.behaviour_problem`). A model that keeps its accuracy but
   whose features were zeroed or made constant fails there.

The record proves nothing: whoever can write the model file can write its record. Its sha256
only tells a file damaged after it was written (a truncated copy, flipped bytes) before Keras
reads it, and its recipe version a model of an older recipe. A missing, corrupt or failing model
is reported with the reason, discarded and retrained, and written atomically (a temporary file in
the same folder, then ``os.replace``), so two processes training at once cannot leave a
half-written file. What the checks cannot rule out is a model built to pass them: one that
behaves like the real one wherever they look.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import tempfile
import time
from typing import Callable

from datasets import _download

STALE_SECONDS = 3600  # an unreferenced model file older than this belongs to no running process


@dataclasses.dataclass(frozen=True)
class CachedModel:
    """How one model is trained, checked and kept. ``evaluate(model)`` returns what the callers
    use (with ``.model``, ``.path`` and ``.test_accuracy``), and raises if the model does not fit."""

    stem: str  # the files' names start with it: "mnist-judge-v1"
    version: int  # the recipe's version: bump it whenever the trained weights would change
    what: str  # "the digit judge", for the messages
    tested_on: str  # "the test digits", for the messages
    minimum: float  # the test accuracy below which a model is not used
    cost: str  # "about 15 s on 2 CPU cores": what training it takes
    recipe: dict  # the settings, written into the record
    train: Callable  # () -> a trained keras.Model
    evaluate: Callable  # keras.Model -> the result the callers use
    note: Callable[[str], None]  # one line of progress, on the standard error
    # result -> None, or why the model is not trusted: what the model must do beyond its accuracy
    verify: Callable[[object], str | None] | None = None

    @property
    def record_name(self) -> str:
        return f"{self.stem}.json"

    def read(self, folder: pathlib.Path):
        """``(the verified result, "", None)``, or ``(None, why not, the file to discard)`` (the
        file, when it exists but is corrupt, unloadable, inaccurate or fails :attr:`verify`)."""
        import keras

        record_path = folder / self.record_name
        if not os.path.lexists(record_path):
            return None, f"no {self.what.removeprefix('the ')} in the cache yet", None
        try:
            with _download.open_regular(record_path, "the model's record") as handle:  # no FIFO
                record = json.loads(handle.read().decode("utf-8"))
            name, sha256, version = str(record["file"]), str(record["sha256"]), record["recipe_version"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            return None, f"its record {record_path.name} is unreadable ({type(error).__name__})", None
        if version != self.version:
            return None, f"the cached model follows recipe version {version}, not {self.version}", None
        if pathlib.Path(name).name != name or not name.startswith(self.stem) \
                or not name.endswith(".keras"):
            return None, f"its record {record_path.name} names an unexpected file {name!r}", None
        path = folder / name
        problem = _download.problem_with(path, sha256)
        if problem is not None:
            return None, f"{name} is {problem}", path if os.path.lexists(path) else None
        try:
            model = keras.models.load_model(path, compile=False)
        except Exception as error:  # noqa: BLE001  (a file Keras cannot read, whatever the reason)
            return None, f"{name} cannot be loaded ({type(error).__name__}: {error})", path
        try:
            result = self.evaluate(model)
        except Exception as error:  # noqa: BLE001  (e.g. a model of another shape under the right name)
            return None, f"{name} cannot be evaluated ({type(error).__name__}: {error})", path
        if result.test_accuracy < self.minimum:
            return None, (f"{name} scores {result.test_accuracy:.4f} on {self.tested_on}, below "
                          f"{self.minimum}"), path
        problem = self.behaviour_problem(result)
        if problem is not None:
            return None, f"{name} {problem}", path
        result.path = path
        return result, "", None

    def behaviour_problem(self, result) -> str | None:
        """Why the model's behaviour is not trusted (:attr:`verify`), or None."""
        if self.verify is None:
            return None
        try:
            return self.verify(result)
        except Exception as error:  # noqa: BLE001  (a model of another make fails its check)
            return f"cannot be checked ({type(error).__name__}: {error})"

    def write(self, folder: pathlib.Path, result) -> pathlib.Path:
        """Save atomically: the model under a name holding its hash, then the record naming it,
        each written to a temporary beside it and renamed into place, so that a reader sees the
        old pair or the new pair, never half a file."""
        folder.mkdir(parents=True, exist_ok=True)
        _download.sweep_stale_temporaries(folder)
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask  # mkstemp makes files private; a cache is shared
        temporaries = []
        try:
            handle, model_tmp = tempfile.mkstemp(dir=folder, suffix=".keras",
                                                 prefix=_download.temporary_prefix(self.stem))
            os.close(handle)
            temporaries.append(pathlib.Path(model_tmp))
            result.model.save(model_tmp)
            os.chmod(model_tmp, mode)
            sha256 = _download.sha256_of(pathlib.Path(model_tmp))
            path = folder / f"{self.stem}-{sha256[:16]}.keras"
            os.replace(model_tmp, path)
            handle, record_tmp = tempfile.mkstemp(dir=folder, suffix=".json",
                                                  prefix=_download.temporary_prefix(self.stem))
            temporaries.append(pathlib.Path(record_tmp))
            record = {"file": path.name, "sha256": sha256, "recipe_version": self.version,
                      "test_accuracy": round(result.test_accuracy, 6), "recipe": self.recipe}
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(record, out, indent=2)
            os.chmod(record_tmp, mode)
            os.replace(record_tmp, folder / self.record_name)
        finally:
            for temporary in temporaries:
                temporary.unlink(missing_ok=True)
        now = time.time()
        for entry in folder.glob(f"{self.stem}-*.keras"):  # housekeeping: older unreferenced files
            try:
                if entry != path and now - entry.stat().st_mtime > STALE_SECONDS:
                    entry.unlink()
            except OSError:
                pass
        return path

    def load(self, loaded: dict):
        """The verified result from the data cache, trained (and cached) first when it is
        missing, corrupt, of another recipe version, below the accuracy floor or failing its
        behaviour check; kept in ``loaded`` (the caller's, by cache folder) so that a process
        loads it once."""
        folder = _download.cache_dir()
        key = str(folder.resolve())
        if key in loaded:
            return loaded[key]
        result, why, unusable = self.read(folder)
        if result is None:
            with contextlib.ExitStack() as stack:
                with contextlib.suppress(OSError):  # a read-only cache: unlocked (said when saving)
                    folder.mkdir(parents=True, exist_ok=True)
                if stack.enter_context(_download.exclusive(folder / f"{self.stem}.lock")):
                    # Another process may have trained it while this one waited for the lock.
                    result, why, unusable = self.read(folder)
                if result is None:
                    result = self._train(folder, why, unusable)
        loaded[key] = result
        return result

    def _train(self, folder: pathlib.Path, why: str, unusable: pathlib.Path | None):
        """Train, check and keep the model (``why``: what was wrong with the cached one)."""
        self.note(f"training {self.what} once ({why}); {self.cost}")
        if unusable is not None:
            try:
                _download.discard(unusable)  # the cache's own file, unusable: ours to remove
            except OSError:
                pass  # a read-only cache: the new model cannot be saved either, said below
        started, cpu = time.perf_counter(), time.process_time()
        result = self.evaluate(self.train())
        if result.test_accuracy < self.minimum:
            raise RuntimeError(f"{self.what}, freshly trained, scores {result.test_accuracy:.4f} "
                               f"on {self.tested_on}, below {self.minimum}: this should not "
                               f"happen; please report it with your TensorFlow version")
        problem = self.behaviour_problem(result)
        if problem is not None:
            raise RuntimeError(f"{self.what}, freshly trained, {problem}: this should not "
                               f"happen; please report it with your TensorFlow version")
        try:
            result.path = self.write(folder, result)
            where = f"saved to {result.path}"
        except OSError as error:
            where = (f"not saved: cannot write into {folder} ({_download.describe(error)}); "
                     f"set {_download.CACHE_VARIABLE} to a folder you can write to")
        self.note(f"{self.what} trained: accuracy {result.test_accuracy:.4f} on {self.tested_on}, "
                  f"{time.perf_counter() - started:.1f} s ({time.process_time() - cpu:.1f} CPU s), "
                  f"{where}")
        return result
