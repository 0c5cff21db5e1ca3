"""The Teach panel: new actions learnt from the camera in seconds (``cognn.teach``).

Type an action's name, record three takes of a few seconds with a countdown (or add files), record "nothing" (what
should not fire), press Learn: the takes are skeleton recordings of the current source in the base model's layout,
kept in one folder per action under the teach folder; ``cognn.teach.teach_folder`` learns the model in a worker
thread (pose already done, features cached), and the window loads it and lists it in the Model menu.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from PyQt6.QtCore import QThread, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

__all__ = ["TeachPanel", "teach_root", "BASE"]

#: the bundled model whose backbone a taught model uses (its layout is the recordings')
BASE = "fitness"
TAKES = 3
COUNTDOWN_S = 3


def teach_root() -> Path:
    """Where takes and taught models live: ``$COGNN_TEACH_DIR``, else ``~/.local/share/cognn/teach``."""
    env = os.environ.get("COGNN_TEACH_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "cognn" / "teach"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name.strip()).strip("_").lower()


class _Learner(QThread):
    """``teach_folder`` in a thread; ``done(path)`` or ``failed(message)``."""

    done = pyqtSignal(str, str)
    failed = pyqtSignal(str)

    def __init__(self, folder: Path, out: Path, base: Path) -> None:
        super().__init__()
        self.folder, self.out, self.base = folder, out, base

    def run(self) -> None:
        from cognn.teach.folder import teach_folder

        try:
            res = teach_folder(self.folder, self.out, base=self.base)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
            self.failed.emit(f"learning failed: {exc}")
            return
        notes = " ".join(res.notes)
        self.done.emit(str(res.path), f"learnt {', '.join(c for c in res.classes if c != 'none')} from "
                                      f"{sum(res.clips.values())} clips in {res.seconds:.1f} s. {notes}".strip())


class TeachPanel(QDockWidget):
    """The dock (see the module docstring). ``window`` is the :class:`~cognn_app.window.MainWindow`."""

    learnt = pyqtSignal(str)  # the new model's path
    take_done = pyqtSignal(str)  # the take's path

    def __init__(self, window, root: Path | None = None, take_seconds: float = 5.0) -> None:
        super().__init__("Teach", window)
        self.window = window
        self.root = root or teach_root()
        self.take_seconds = take_seconds
        self.folder = self.root / "actions"
        self.learner: _Learner | None = None
        self._queue: list[tuple[str, int]] = []  # (action, take number) still to record
        self._current: Path | None = None
        self._count = 0
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        body = QWidget()
        col = QVBoxLayout(body)
        row = QHBoxLayout()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("action name, e.g. star_jump")
        row.addWidget(QLabel("Action"))
        row.addWidget(self.name_edit, 1)
        col.addLayout(row)
        row = QHBoxLayout()
        self.takes_box = QSpinBox()
        self.takes_box.setRange(1, 10)
        self.takes_box.setValue(TAKES)
        self.record_button = QPushButton("Record takes")
        self.record_button.setToolTip(f"{COUNTDOWN_S} s countdown, then a {take_seconds:g} s take, for each take")
        self.record_button.clicked.connect(lambda *_: self.record_takes())
        row.addWidget(self.takes_box)
        row.addWidget(self.record_button, 1)
        col.addLayout(row)
        row = QHBoxLayout()
        self.files_button = QPushButton("Add files…")
        self.files_button.clicked.connect(lambda *_: self.add_files_dialog())
        self.nothing_button = QPushButton("Record nothing")
        self.nothing_button.setToolTip("A take of what should not fire (standing, walking by, ...)")
        self.nothing_button.clicked.connect(lambda *_: self.record_takes("none", 1))
        row.addWidget(self.files_button)
        row.addWidget(self.nothing_button)
        col.addLayout(row)
        self.actions_list = QListWidget()
        self.actions_list.setMinimumHeight(70)
        col.addWidget(self.actions_list)
        self.learn_button = QPushButton("Learn")
        self.learn_button.clicked.connect(lambda *_: self.learn())
        col.addWidget(self.learn_button)
        self.status = QLabel("record three takes of each action")
        self.status.setWordWrap(True)
        col.addWidget(self.status)
        col.addStretch(1)
        self.setWidget(body)
        self.refresh()

    # -- what is there -------------------------------------------------------------------------------------------------
    def actions(self) -> dict[str, int]:
        """``{action: clips}`` in the teach folder."""
        if not self.folder.is_dir():
            return {}
        return {d.name: sum(1 for f in d.iterdir() if f.is_file() and not f.name.startswith("."))
                for d in sorted(self.folder.iterdir()) if d.is_dir() and not d.name.startswith(".")}

    def refresh(self) -> None:
        self.actions_list.clear()
        for name, n in self.actions().items():
            self.actions_list.addItem(f"{name}: {n} clip{'s' if n != 1 else ''}")

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.window.statusBar().showMessage(text)

    # -- takes ---------------------------------------------------------------------------------------------------------
    def _ensure_base(self) -> bool:
        """Recordings must be in the base's layout: switch to the base model first when another is loaded."""
        info = self.window.model_info
        from cognn.weights import resolve_weights

        base = resolve_weights(BASE)
        layout = info.layout if info is not None else None
        from cognn.checkpoints import read_checkpoint

        want = read_checkpoint(base).meta.get("layout")
        if layout != want:
            self._say(f"switching to the {BASE} model (takes are recorded in its skeleton layout); press again")
            self.window.set_weights(BASE)
            return False
        return True

    def record_takes(self, action: str | None = None, takes: int | None = None) -> bool:
        """Record ``takes`` takes of ``action`` (default: the typed name and the take count) from the current
        source, each after a countdown; False when nothing could start."""
        name = _slug(action if action is not None else self.name_edit.text())
        if not name:
            self._say("type the action's name first")
            return False
        if self._queue or self._current is not None:
            self._say("a take is being recorded")
            return False
        if not self._ensure_base():
            return False
        n = takes if takes is not None else self.takes_box.value()
        have = self.actions().get(name, 0)
        self._queue = [(name, have + i + 1) for i in range(n)]
        self._next()
        return True

    def _next(self) -> None:
        if not self._queue:
            self._say("takes recorded: record another action or press Learn")
            self.refresh()
            return
        name, k = self._queue[0]
        self._count = COUNTDOWN_S
        self._say(f"{name} take {k}: starting in {self._count}…")
        self.window.view.set_notice(f"{name} take {k} in {self._count}")
        self._timer.start(1000)

    def _tick(self) -> None:
        if self._current is None:
            self._count -= 1
            if self._count > 0:
                name, k = self._queue[0]
                self._say(f"{name} take {k}: starting in {self._count}…")
                self.window.view.set_notice(f"{name} take {k} in {self._count}")
                return
            name, k = self._queue.pop(0)
            folder = self.folder / name
            folder.mkdir(parents=True, exist_ok=True)
            self._current = folder / f"take{k}.h5"
            self._timer.start(int(self.take_seconds * 1000))
            self._say(f"recording {name} take {k} ({self.take_seconds:g} s)…")
            self.window.view.set_notice(f"● {name} take {k}")
            self.window.start_recording(str(self._current), None)
            return
        self._timer.stop()
        self.window.stop_recording()
        done, self._current = self._current, None
        self.window.view.set_notice(None)
        QTimer.singleShot(300, lambda: self._finish_take(done))

    def _finish_take(self, path: Path) -> None:
        self.refresh()
        self.take_done.emit(str(path))
        self._next()

    def add_files(self, action: str, files: list[str]) -> int:
        """Copy clips (videos, recordings, skeleton files) into the action's folder; how many were added."""
        name = _slug(action)
        if not name:
            self._say("type the action's name first")
            return 0
        folder = self.folder / name
        folder.mkdir(parents=True, exist_ok=True)
        n = 0
        for f in files:
            src = Path(f)
            if src.is_file():
                shutil.copy2(src, folder / src.name)
                n += 1
        self.refresh()
        self._say(f"added {n} file{'s' if n != 1 else ''} to {name}")
        return n

    def add_files_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Clips of the action", "",
                                                "Clips (*.mp4 *.avi *.mov *.mkv *.webm *.h5 *.skeleton *.json)")
        if files:
            self.add_files(self.name_edit.text(), files)

    # -- learning ------------------------------------------------------------------------------------------------------
    def learn(self) -> bool:
        """Learn a model from the teach folder in a worker thread; the window loads it when done."""
        from cognn.weights import resolve_weights

        acts = [a for a in self.actions() if a not in ("none", "nothing")]
        if not acts:
            self._say("record at least one action first")
            return False
        if self.learner is not None and self.learner.isRunning():
            return False
        out = self.root / "models" / f"{'_'.join(acts)[:60]}.safetensors"
        out.parent.mkdir(parents=True, exist_ok=True)
        self.learner = _Learner(self.folder, out, resolve_weights(BASE))
        self.learner.done.connect(self._learnt)
        self.learner.failed.connect(self._say)
        self.learn_button.setEnabled(False)
        self._say(f"learning {', '.join(acts)}…")
        self.learner.start()
        return True

    def _learnt(self, path: str, message: str) -> None:
        self.learn_button.setEnabled(True)
        self._say(message)
        self.window.add_taught_model(path)
        self.window.set_weights(path)
        self.learnt.emit(path)
