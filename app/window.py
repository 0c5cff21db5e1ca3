"""The main window: video/skeleton view, top-k bars, warm-up, timing plot, action events, replay controls, timeline,
menus.

The window only draws and forwards commands: frames and pose come from the capture worker (:mod:`cognn_app.capture`),
the live session's step from the model worker (:mod:`cognn_app.stepper`) as :class:`~cognn_app.messages.StepResult`
signals; the views are in :mod:`cognn_app.widgets`.
"""
from __future__ import annotations

import sys
import time
from collections import deque
from dataclasses import replace
from pathlib import Path

from PyQt6.QtCore import QSize, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QActionGroup, QCloseEvent, QColor, QKeySequence, QPalette
from PyQt6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cognn.live.session import warmup_text
from cognn.render import percent
from cognn.sources import natural_layout

from .capture import CaptureWorker
from .messages import ModelInfo, ModelRequest, SourceInfo, SourceRequest, StepResult
from .queue import FrameQueue, start_worker, stop_worker
from .settings import AppSettings
from .stepper import ModelWorker
from .widgets import BarsView, PlotView, TimelineView, VideoView

__all__ = ["apply_dark_theme", "MainWindow", "SPEEDS", "MEDIA_FILTER"]

#: replay speeds offered (0 = as fast as the pipeline goes)
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 0.0)
MEDIA_FILTER = ("Sources (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.skeleton *.json *.h5 *.hdf5);;"
                "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v);;NTU skeletons (*.skeleton);;Kinetics JSON (*.json);;"
                "cognn HDF5 (*.h5 *.hdf5);;All files (*)")


def apply_dark_theme(app: QApplication) -> None:
    """Fusion style with a dark palette, so the picture, the bars and the plot share one look."""
    app.setStyle("Fusion")
    pal = QPalette()
    base, window, text = QColor(30, 30, 34), QColor(40, 40, 46), QColor(225, 225, 225)
    for role, colour in ((QPalette.ColorRole.Window, window), (QPalette.ColorRole.WindowText, text),
                         (QPalette.ColorRole.Base, base), (QPalette.ColorRole.AlternateBase, window),
                         (QPalette.ColorRole.Text, text), (QPalette.ColorRole.Button, window),
                         (QPalette.ColorRole.ButtonText, text), (QPalette.ColorRole.ToolTipBase, base),
                         (QPalette.ColorRole.ToolTipText, text), (QPalette.ColorRole.Highlight, QColor(60, 130, 200)),
                         (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))):
        pal.setColor(role, colour)
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(120, 120, 120))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(120, 120, 120))
    app.setPalette(pal)


def _bundled_models() -> list:
    """The model entries of weights/manifest.json (none when it cannot be read: the app still starts)."""
    from cognn.errors import CognnError
    from cognn.weights import load_manifest

    try:
        return [e for e in load_manifest() if e.kind == "model"]
    except (CognnError, OSError, ValueError):
        return []


def _speed_text(speed: float) -> str:
    return "max" if speed <= 0 else f"{speed:g}×"


# ----------------------------------------------------------------------------------------------------------------------
# the window

class MainWindow(QMainWindow):
    """cognn-app's window. Public methods mirror the menu entries, so scripts and tests drive it like a user."""

    frame_shown = pyqtSignal(object)  # StepResult, after the window took it
    source_opened = pyqtSignal(object)  # SourceInfo
    model_loaded = pyqtSignal(object)  # ModelInfo
    error_shown = pyqtSignal(str)
    source_ended = pyqtSignal()
    closed = pyqtSignal()  # the window was closed (its workers stopped)
    alarm_raised = pyqtSignal(object)  # an alarm class's event (cognn.live.events.Event), e.g. a fall

    def __init__(self, *, model: str | None = None, weights: str | None = None, top_k: int = 5,
                 settings: AppSettings | None = None, scripted: bool = False, queue_size: int = 2,
                 mirror: bool = False, per_person: bool = False, precision: str = "fp32") -> None:
        super().__init__()
        self.settings = settings or AppSettings()
        self.scripted = scripted  # errors go to stderr instead of dialogs
        self.top_k = max(1, int(top_k))
        self.source_info: SourceInfo | None = None
        self.source_request: SourceRequest | None = None
        self.model_info: ModelInfo | None = None
        self.last_result: StepResult | None = None
        self.last_error: str | None = None
        self.error_dialog: QMessageBox | None = None
        self.frames_shown = 0  # results shown for the current source
        self._end_pending = False
        self.last_top: list[tuple[str, float]] = []  # the latest top-k (strided models skip frames)
        self._last_top1 = -1
        self.recording = False
        self.skeleton_video: str | None = None
        #: a source waiting for a model of its layout
        self._open_after_model: SourceRequest | None = None
        #: action events of the current source that ended (cognn.live.events.Event), and those going on by person
        self.events: list = []
        self.open_events: dict = {}
        self._open_key: list = []  # what the open rows of the event panel show (redrawn when it changes)
        self._runs: dict[int, int] = {}  # each person's run of repetitions, where it is of their open event's class
        self._arrivals: deque[float] = deque(maxlen=30)
        self.fps = 0.0
        self._pose_ms: float | None = None  # the latest pose time (held pictures show it again)
        self._closed = False
        self.teach_panel = None
        #: a live stream's state while it is lost ("reconnecting ..."), polled from the capture worker
        self.stream_status: str | None = None
        self._notice_until = 0.0
        app = QApplication.instance()
        if isinstance(app, QApplication) and app.property("cognn_theme") is None:
            apply_dark_theme(app)
            app.setProperty("cognn_theme", "dark")
        self.setWindowTitle("cognn — online skeleton action recognition")
        self._build_ui()
        self._build_menus()
        geometry, size = self.settings.geometry, self.settings.window_size
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(size if size is not None else QSize(1280, 760))

        self.queue = FrameQueue(queue_size)
        self.capture = CaptureWorker(self.queue)
        self.model = ModelWorker(self.queue, ModelRequest(model=model, weights=weights, top_k=self.top_k,
                                                          per_person=per_person, precision=precision), mirror=mirror)
        self.precision_actions[precision].setChecked(True)
        self.mirror_action.setChecked(bool(mirror))
        self.capture.opened.connect(self._on_opened)
        self.capture.failed.connect(self._on_source_failed)
        self.capture.ended.connect(self._on_ended)
        self.capture.playing_changed.connect(self._on_playing)
        self.model.result.connect(self._on_result)
        self.model.model_changed.connect(self._on_model)
        self.model.failed.connect(self._on_model_failed)
        self.model.recording_changed.connect(self._on_recording)
        self.model.finished.connect(self._on_stream_finished)
        self.view.resized.connect(self._on_view_resized)
        self.model.set_view_size(self.view.width(), self.view.height())
        self.capture_thread = start_worker(self.capture, "cognn-capture")
        self.model_thread = start_worker(self.model, "cognn-model")
        self._stream_timer = QTimer(self)
        self._stream_timer.setInterval(200)
        self._stream_timer.timeout.connect(self._poll_stream)
        self._stream_timer.start()

    # -- construction -------------------------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.view = VideoView()
        side = QWidget()
        side.setMinimumWidth(300)
        side.setMaximumWidth(460)
        col = QVBoxLayout(side)
        col.setContentsMargins(8, 8, 8, 8)
        self.model_label = QLabel("loading model…")
        self.model_label.setWordWrap(True)
        self.model_label.setStyleSheet("font-weight: bold;")
        self.weights_notice = QLabel("Untrained weights: the predictions below are not meaningful. "
                                     "Load trained weights (Model ▸ Load weights…).")
        self.weights_notice.setWordWrap(True)
        self.weights_notice.setStyleSheet("background: #5a1d1d; color: #ffd0d0; padding: 4px; border-radius: 3px;")
        self.weights_notice.hide()
        self.bars = BarsView()
        self.bars.set_rows(self.top_k)
        self.warmup = QProgressBar()
        self.warmup.setTextVisible(True)
        self.warmup.setFormat("no frames yet")
        self.timing_label = QLabel("pose – ms   model – ms\n– fps")
        self.timing_label.setStyleSheet("font-family: monospace;")
        # labels that change every frame get fixed sizes: a changing size hint would re-layout the window each frame
        self.timing_label.setFixedHeight(3 * self.timing_label.fontMetrics().lineSpacing() + 4)
        self.timing_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.plot = PlotView()
        self.source_label = QLabel("no source")
        self.source_label.setWordWrap(True)
        self.events_list = QListWidget()
        self.events_list.setToolTip("Action events: steady labels that lasted (the open one of each person last)")
        self.events_list.setMinimumHeight(90)
        self.save_events_button = QPushButton("Save events…")
        self.save_events_button.setToolTip("Write the events as JSON lines (.jsonl) or CSV (.csv)")
        self.save_events_button.clicked.connect(lambda *_: self.save_events_dialog())
        for w in (self.model_label, self.weights_notice, QLabel("Top actions"), self.bars, self.warmup,
                  self.timing_label, self.plot, QLabel("Action events"), self.events_list, self.save_events_button,
                  self.source_label):
            col.addWidget(w)
        col.addStretch(1)

        self.error_bar = QFrame()
        self.error_bar.setStyleSheet("background: #5a1d1d; color: #ffd0d0;")
        eb = QHBoxLayout(self.error_bar)
        eb.setContentsMargins(8, 4, 8, 4)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.retry_button = QPushButton("Retry")
        self.retry_button.clicked.connect(self.retry)
        eb.addWidget(self.error_label, 1)
        eb.addWidget(self.retry_button)
        self.error_bar.hide()

        self.timeline = TimelineView()
        self.timeline.seek_requested.connect(self.seek)
        controls = QWidget()
        row = QHBoxLayout(controls)
        row.setContentsMargins(6, 0, 6, 4)
        self.open_button = self._tool("Open", "Open a source (O)", self.open_file_dialog)
        self.play_button = self._tool("Play", "Play / pause (Space)", self.toggle_play)
        self.step_button = self._tool("Step", "Single step (Right)", self.step)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.setEnabled(False)
        self.slider.sliderReleased.connect(lambda: self.seek(self.slider.value()))
        self.slider.actionTriggered.connect(self._slider_action)
        self.position_label = QLabel("–")
        widest = self.position_label.fontMetrics().horizontalAdvance("00000/00000  0000.00 s")
        self.position_label.setFixedWidth(widest + 8)
        self.speed_box = QComboBox()
        self.speed_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for s in SPEEDS:
            self.speed_box.addItem(_speed_text(s), s)
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.currentIndexChanged.connect(lambda i: self.set_speed(SPEEDS[i]))
        self.record_button = self._tool("Record", "Record skeletons and the annotated video (Ctrl+R)",
                                        self.toggle_recording)
        self.record_button.setCheckable(True)
        for w in (self.open_button, self.play_button, self.step_button):
            row.addWidget(w)
        row.addWidget(self.slider, 1)
        row.addWidget(self.position_label)
        row.addWidget(QLabel("speed"))
        row.addWidget(self.speed_box)
        row.addWidget(self.record_button)

        split = QSplitter()
        split.addWidget(self.view)
        split.addWidget(side)
        split.setStretchFactor(0, 1)
        split.setCollapsible(0, False)
        central = QWidget()
        main = QVBoxLayout(central)
        main.setContentsMargins(0, 0, 0, 0)
        main.setSpacing(2)
        main.addWidget(self.error_bar)
        main.addWidget(split, 1)
        main.addWidget(self.timeline)
        main.addWidget(controls)
        self.setCentralWidget(central)
        self.statusBar().showMessage("ready")

    def _tool(self, text: str, tip: str, slot) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setToolTip(tip)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        b.clicked.connect(lambda *_: slot())
        return b

    def _action(self, menu, text: str, slot, shortcut: str | QKeySequence.StandardKey | None = None,
                *shortcuts: str) -> QAction:
        a = QAction(text, self)
        keys = [QKeySequence(shortcut)] if shortcut else []
        keys += [QKeySequence(s) for s in shortcuts]
        if keys:
            a.setShortcuts(keys)
            a.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        a.triggered.connect(lambda *_: slot())
        menu.addAction(a)
        self.addAction(a)
        return a

    def _build_menus(self) -> None:
        from cognn.models import display_name, names

        bar = self.menuBar()
        f = bar.addMenu("&File")
        self._action(f, "Open file…", self.open_file_dialog, "O", "Ctrl+O")
        self._action(f, "Open camera…", self.open_camera_dialog, "C")
        self._action(f, "Skeleton video for replays…", self.skeleton_video_dialog)
        f.addSeparator()
        self.record_action = self._action(f, "Record…", self.toggle_recording, "Ctrl+R")
        self._action(f, "Save screenshot…", self.screenshot_dialog, "Ctrl+S")
        self._action(f, "Save events…", self.save_events_dialog, "Ctrl+E")
        f.addSeparator()
        self._action(f, "Quit", self.close, "Q", "Ctrl+Q")

        pb = bar.addMenu("&Playback")
        self._action(pb, "Play / pause", self.toggle_play, "Space")
        self._action(pb, "Single step", self.step, "Right", ".")
        self._action(pb, "Back 5 s", lambda: self.seek_relative(-5.0), "Left", "Shift+Left")
        self._action(pb, "Forward 5 s", lambda: self.seek_relative(5.0), "Shift+Right")
        self._action(pb, "Faster", lambda: self.change_speed(+1), "+", "=")
        self._action(pb, "Slower", lambda: self.change_speed(-1), "-")
        self._action(pb, "Restart", lambda: self.seek(0), "Home")

        vm = bar.addMenu("&View")
        self.mirror_action = self._action(vm, "Mirror view", lambda: None, "M")
        self.mirror_action.setCheckable(True)
        self.mirror_action.setToolTip("Draw a mirror image; the pose model still sees the camera's own frame")
        self.mirror_action.toggled.connect(self.set_mirror)

        mm = bar.addMenu("&Model")
        bundled = QActionGroup(self)
        self.bundled_actions: dict[tuple[str, str], QAction] = {}  # (name, alias) -> action
        for entry in _bundled_models():
            short = entry.alias or entry.name
            n = len(entry.class_names())
            a = QAction(f"{short}: {entry.model}, {entry.layout}, {n} classes", self, checkable=True)
            a.setToolTip(f"{entry.description} Licence: {entry.licence or 'see weights/README.md'}")
            a.setStatusTip(entry.data)
            a.triggered.connect(lambda _=False, name=entry.name: self.set_weights(name))
            bundled.addAction(a)
            mm.addAction(a)
            self.bundled_actions[(entry.name, entry.alias)] = a
        mm.setToolTipsVisible(True)
        mm.addSeparator()
        arch = mm.addMenu("Architecture (untrained unless the weights fit)")
        self.model_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        for name in names("continual"):
            a = QAction(f"{display_name(name)}  ({name})", self, checkable=True)
            a.triggered.connect(lambda _=False, n=name: self.set_model(n))
            group.addAction(a)
            arch.addAction(a)
            self.model_actions[name] = a
        self.taught_menu = mm.addMenu("Taught models")
        self.taught_menu.setToolTipsVisible(True)
        self._taught_group = QActionGroup(self)
        self._list_taught_models()
        self._action(mm, "Teach new actions…", self.show_teach_panel, "Ctrl+T")
        self._action(mm, "Load weights…", self.weights_dialog, "W")
        self._action(mm, "Default weights", lambda: self.set_weights(None))
        shown = mm.addMenu("Classes shown")
        self._action(shown, "All classes", lambda: self.set_classes(None))
        self._action(shown, "Kinetics-Motion (30 classes with much body motion)",
                     lambda: self.set_classes("kinetics-motion"))
        self._action(shown, "From a file…", self.classes_dialog)
        topk = mm.addMenu("Top-k")
        for k in (1, 3, 5, 10):
            topk.addAction(f"{k}", lambda k=k: self.set_top_k(k))
        prec = mm.addMenu("Step precision")
        prec_group = QActionGroup(self)
        self.precision_actions: dict[str, QAction] = {}
        for p, text in (("fp32", "float32 (exact)"), ("bf16", "bfloat16 (faster where the CPU has AVX512-BF16)"),
                        ("int8", "int8 (dynamic quantization, fastest)"),
                        ("auto", "auto (the fastest measured on this machine)")):
            a = QAction(text, self, checkable=True)
            a.triggered.connect(lambda _=False, p=p: self.set_precision(p))
            prec_group.addAction(a)
            prec.addAction(a)
            self.precision_actions[p] = a

    # -- teaching -----------------------------------------------------------------------------------------------------
    def _list_taught_models(self) -> None:
        from .teach import teach_root

        folder = teach_root() / "models"
        for path in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
            self.add_taught_model(str(path))

    def add_taught_model(self, path: str) -> None:
        """List a model made by the Teach panel in Model ▸ Taught models (once)."""
        if any(a.data() == path for a in self.taught_menu.actions()):
            return
        a = QAction(Path(path).stem, self, checkable=True)
        a.setData(path)
        a.setToolTip(path)
        a.triggered.connect(lambda _=False, p=path: self.set_weights(p))
        self._taught_group.addAction(a)
        self.taught_menu.addAction(a)

    def show_teach_panel(self) -> None:
        """Open the Teach panel (record takes of a new action, learn it in seconds)."""
        if self.teach_panel is None:
            from .teach import TeachPanel

            self.teach_panel = TeachPanel(self)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.teach_panel)
        self.teach_panel.show()
        self.teach_panel.raise_()

    def _alarm_events(self, events: list) -> None:
        """An alarm class's event (a fall) the moment it is confirmed: a banner over the picture, the status bar,
        a beep."""
        for e in events:
            if getattr(e, "alarm", False):
                text = f"⚠ {e.label.upper()} (person {e.person + 1}) at {e.start:.1f} s"
                self.view.set_notice(text)
                self._notice_until = time.perf_counter() + 6.0
                self.statusBar().showMessage(text, 10000)
                QApplication.beep()
                self.alarm_raised.emit(e)

    # -- commands -----------------------------------------------------------------------------------------------------
    def open_source(self, spec: str | int | Path, *, skeleton_video: str | None = None, autoplay: bool = True,
                    speed: float | None = None) -> None:
        """Open a file path or a camera index (an int, or a string of digits) in the capture worker."""
        if isinstance(spec, str) and spec.isdigit():
            spec = int(spec)
        if isinstance(spec, Path):
            spec = str(spec)
        if skeleton_video is not None:
            self.skeleton_video = str(skeleton_video)
        video = self.skeleton_video if isinstance(spec, str) and spec.endswith(".skeleton") else None
        req = SourceRequest(spec=spec, skeleton_video=video, autoplay=autoplay)
        self.source_request = req
        self.error_bar.hide()
        if speed is not None:
            self.set_speed(speed)
        self.statusBar().showMessage(f"opening {req.label()}…")
        current = self.model_info.layout if self.model_info is not None else None
        layout = natural_layout(spec, current or "ntu25")
        if current is not None and layout != current:
            # a skeleton file of another layout: a model for it first (the bundled one for that layout), then open
            self._open_after_model = req
            self.model_label.setText(f"loading a {layout} model…")
            req_m = self.model.request
            self.model.load(ModelRequest(model=None, weights=None, top_k=self.top_k, layout=layout,
                                         per_person=req_m.per_person, precision=req_m.precision))
            return
        self._open_after_model = None
        self.capture.open_source(req)

    def retry(self) -> None:
        """Open the last requested source again (after a camera failure)."""
        self.error_bar.hide()
        if self.source_request is not None:
            self.capture.open_source(self.source_request)

    def play(self) -> None:
        self.capture.play()

    def pause(self) -> None:
        self.capture.pause()

    def toggle_play(self) -> None:
        info = self.source_info
        if info is not None and not info.live and not self.capture.playing and info.num_frames is not None \
                and self.last_result is not None and self.last_result.frame.index >= info.num_frames - 1:
            self.seek(0)  # play again from the start
        self.capture.toggle()

    def step(self) -> None:
        self.capture.step(1)

    def seek(self, index: int) -> None:
        if self.source_info is not None and not self.source_info.live:
            self._end_pending = False
            self.timeline.current = int(index)
            self.capture.seek(int(index))  # the model worker resets the live pipeline (new epoch)

    def seek_relative(self, seconds: float) -> None:
        info, r = self.source_info, self.last_result
        if info is None or info.live or r is None:
            return
        self.seek(max(0, int(r.frame.index + round(seconds * info.fps))))

    def set_speed(self, speed: float) -> None:
        self.capture.set_speed(speed)
        if speed in SPEEDS and self.speed_box.currentIndex() != SPEEDS.index(speed):
            self.speed_box.blockSignals(True)
            self.speed_box.setCurrentIndex(SPEEDS.index(speed))
            self.speed_box.blockSignals(False)

    def change_speed(self, direction: int) -> None:
        i = min(max(self.speed_box.currentIndex() + direction, 0), len(SPEEDS) - 1)
        self.speed_box.setCurrentIndex(i)

    def set_model(self, name: str) -> None:
        """Switch to registry model ``name`` (its default weights); the stream goes on, the model starts over."""
        self.model_label.setText(f"loading {name}…")
        layout = self.model_info.layout if self.model_info is not None else None
        req = self.model.request
        self.model.load(ModelRequest(model=name, weights=None, top_k=self.top_k, layout=layout,
                                     per_person=req.per_person, classes=req.classes, precision=req.precision))

    def set_weights(self, path: str | None) -> None:
        """Load a weights file (its model comes from the file), or the default weights for ``None``."""
        req = self.model.request
        self.model_label.setText("loading weights…")
        self.model.load(ModelRequest(model=req.model if path is None else None, weights=path, top_k=self.top_k,
                                     per_person=req.per_person, precision=req.precision))  # a new model: all classes

    def set_top_k(self, k: int) -> None:
        self.top_k = max(1, int(k))
        self.bars.set_rows(self.top_k)
        self.model.load(replace(self.model.request, top_k=self.top_k))

    def set_precision(self, precision: str) -> None:
        """Run the model step in ``precision`` (fp32, bf16 or int8; docs/benchmarks.md has the speed and agreement
        of each); the stream goes on, the model starts over."""
        self.precision_actions[precision].setChecked(True)
        if precision != self.model.request.precision:
            self.model_label.setText(f"loading ({precision})…")
            self.model.load(replace(self.model.request, precision=precision))

    def set_classes(self, spec: str | None) -> None:
        """Show only a subset of the model's classes (``kinetics-motion`` or a class-list file), scores
        renormalised among them; None shows all."""
        self.model.load(replace(self.model.request, top_k=self.top_k, classes=spec))

    def classes_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Class names to show (one a line)", "",
                                              "Text (*.txt);;All files (*)")
        if path:
            self.set_classes(path)

    def start_recording(self, skeleton_path: str | None, video_path: str | None) -> None:
        self.model.start_recording(skeleton_path, video_path)

    def stop_recording(self) -> None:
        self.model.stop_recording()

    def toggle_recording(self) -> None:
        if self.recording:
            self.stop_recording()
            return
        path, _ = QFileDialog.getSaveFileName(self, "Record skeletons to", "session.h5", "cognn HDF5 (*.h5)")
        if not path:
            self.record_button.setChecked(False)
            return
        video = str(Path(path).with_suffix(".mp4"))
        self.start_recording(path, video)

    def set_mirror(self, on: bool) -> None:
        """Mirror what is drawn (picture, skeletons, labels) from the next frame on; the model's input is unchanged."""
        on = bool(on)
        if self.mirror_action.isChecked() != on:
            self.mirror_action.setChecked(on)  # toggled comes back here
            return
        self.model.set_mirror(on)
        self.view.viewport.reset()  # a clean canvas refits to the mirrored points

    @property
    def mirrored(self) -> bool:
        return self.mirror_action.isChecked()

    def all_events(self) -> list:
        """The events of the current source: ended ones and, closed at the latest frame, the open ones."""
        out = list(self.events) + [replace(e) for e in self.open_events.values()]
        return sorted(out, key=lambda e: (e.start, e.person))

    def save_events(self, path: str | Path) -> Path | None:
        """Write :meth:`all_events` as ``.jsonl`` or ``.csv`` (by the suffix); the path written, None on failure."""
        from cognn.live.events import write_events

        try:
            out = write_events(path, self.all_events())
        except (OSError, ValueError) as exc:
            self.show_error(f"{path}: cannot save the events: {exc}")
            return None
        self.statusBar().showMessage(f"saved {len(self.all_events())} events to {out}")
        return out

    def save_events_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save events", "events.jsonl",
                                              "JSON lines (*.jsonl);;CSV (*.csv)")
        if path:
            self.save_events(path)

    def _show_events(self, r: StepResult) -> None:
        """Append the events that ended; the open ones (one per person) stay as the last rows, redrawn whenever
        their label or repetition count changes. The overlay counts the person's whole run of repetitions, an
        event its own share of it: where a run spans several events (the label left and came back), the open row
        also gives the run's count, the overlay's number."""
        runs = {v.person: v.reps for v in r.persons if v.reps is not None}
        self._runs = {p: n for p, n in runs.items() if p in r.open_events and r.open_events[p].label ==
                      next(v.shown_label for v in r.persons if v.person == p)}
        self._update_events(r.events, r.open_events)

    def _update_events(self, ended: list, going: dict) -> None:
        runs = self._runs if going else {}
        key = lambda events: sorted((p, e.label, e.start, e.reps, runs.get(p)) for p, e in events.items())  # noqa: E731
        if not ended and key(going) == self._open_key:
            self.open_events = going
            return
        self._open_key = key(going)
        n_open = len(self.open_events)
        for _ in range(n_open):
            self.events_list.takeItem(self.events_list.count() - 1)
        self.events += ended
        for e in ended:
            reps = f"  ×{e.reps}" if e.reps is not None else ""
            self.events_list.addItem(f"P{e.person + 1}  {e.label}{reps}  {e.start:.1f}–{e.end:.1f} s  "
                                     f"(peak {percent(e.peak_score)})")
        self.open_events = going
        for person, e in sorted(going.items()):
            reps = f"  ×{e.reps}" if e.reps is not None else ""
            run = runs.get(person)
            more = f", ×{run} in a row" if run is not None and e.reps is not None and run != e.reps else ""
            self.events_list.addItem(f"P{person + 1}  {e.label}{reps}  {e.start:.1f} s…  (now{more})")
        self.events_list.scrollToBottom()

    def _clear_events(self) -> None:
        self.events, self.open_events, self._open_key = [], {}, []
        self.events_list.clear()

    def save_screenshot(self, path: str | Path) -> bool:
        """Grab the whole window into an image file; True when it was written."""
        ok = self.grab().save(str(path))
        if not ok:
            self.show_error(f"{path}: cannot write the screenshot (unknown image type or folder?)")
        return ok

    # -- dialogs ------------------------------------------------------------------------------------------------------
    def open_file_dialog(self) -> None:
        start = self.settings.last_source or ""
        path, _ = QFileDialog.getOpenFileName(self, "Open a source", start if not start.startswith("camera:") else "",
                                              MEDIA_FILTER)
        if path:
            self.open_source(path)

    def open_camera(self, value: str | int) -> bool:
        """Open a camera: an index (``0``), a device path (``/dev/video0``) or a stream URL (``rtsp://...``,
        ``http://...`` MJPEG); False (and an error shown) for anything else."""
        from cognn.errors import CognnError
        from cognn.sources import parse_camera

        try:
            spec = parse_camera(value)
        except CognnError as exc:
            self.show_error(str(exc).replace("--camera ", "camera ", 1))
            return False
        self.open_source(spec)
        return True

    def open_camera_dialog(self) -> None:
        last = self.settings.last_source or ""
        text, ok = QInputDialog.getText(self, "Open camera", "Camera index (0), device (/dev/video0) or stream URL "
                                        "(rtsp://…, http://…):", text=last[7:] if last.startswith("camera:") else "0")
        if ok and text.strip():
            self.open_camera(text.strip())

    def skeleton_video_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "RGB video to draw NTU skeleton replays on", "",
                                              "Videos (*.mp4 *.avi *.mov *.mkv);;All files (*)")
        if path:
            self.skeleton_video = path
            req = self.source_request
            if req is not None and isinstance(req.spec, str) and req.spec.endswith(".skeleton"):
                self.open_source(req.spec)

    def weights_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load weights", "weights",
                                              "Weights (*.safetensors *.pt *.pth);;All files (*)")
        if path:
            self.set_weights(path)

    def screenshot_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", "cognn.png", "PNG (*.png)")
        if path:
            self.save_screenshot(path)

    def show_error(self, message: str) -> None:
        """An error dialog (non-blocking), or stderr in scripted use."""
        self.last_error = message
        self.statusBar().showMessage(message)
        self.error_shown.emit(message)
        if self.scripted:
            print(f"cognn-app: error: {message}", file=sys.stderr)
            return
        if self.error_dialog is not None:
            self.error_dialog.close()
        box = QMessageBox(QMessageBox.Icon.Warning, "cognn", message, QMessageBox.StandardButton.Ok, self)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()
        self.error_dialog = box

    # -- worker signals -----------------------------------------------------------------------------------------------
    def _on_opened(self, info: SourceInfo) -> None:
        self.source_info = info
        self.frames_shown = 0
        self.last_result = None
        self._end_pending = False
        self.last_top, self._last_top1 = [], -1
        self._pose_ms = None
        self.bars.set_top([])
        self._clear_events()
        self._arrivals.clear()
        self.plot.clear()
        self.view.reset(f"opened {info.name}")
        self.timeline.reset(info.num_frames)
        live = info.live
        self.slider.setEnabled(not live and bool(info.num_frames))
        self.slider.setRange(0, max((info.num_frames or 1) - 1, 0))
        self.slider.setValue(0)
        for w in (self.step_button, self.speed_box):
            w.setEnabled(not live)
        kind = ("stream" if isinstance(info.request.spec, str) else "camera") if live else \
            f"{info.num_frames or '?'} frames"
        self.source_label.setText(f"{info.name}\n{info.layout} · {info.domain} · {info.fps:.1f} fps · {kind}")
        self.settings.last_source = f"camera:{info.request.spec}" if live else str(info.request.spec)
        self.statusBar().showMessage(f"opened {info.name}")
        self.error_bar.hide()
        self.source_opened.emit(info)

    def _on_source_failed(self, message: str, live: bool, still_open: bool) -> None:
        if not still_open:
            self.source_info = None
            self.slider.setEnabled(False)
            self.source_label.setText("no source")
        if live:
            self.error_label.setText(message)
            self.error_bar.show()
            self.last_error = message
            self.statusBar().showMessage(message)
            self.error_shown.emit(message)
            self.view.reset("camera unavailable: press Retry")
            if self.scripted:
                print(f"cognn-app: error: {message}", file=sys.stderr)
        else:
            self.show_error(message)

    def _on_ended(self, source_id: int) -> None:
        info = self.source_info
        if info is not None and info.source_id == source_id:
            self._end_pending = True
            self._check_end()

    def _check_end(self) -> None:
        """Once the frames still in the pipeline have been shown: at the end of a file the events going on close
        (the model worker ends the stream, then :meth:`_on_stream_finished` announces it); where ``--frames``
        stopped the playback first, the status bar says so."""
        if self._end_pending and self.frames_shown >= self.capture.frames_sent:
            self._end_pending = False
            if self.capture.stopped_by_limit:
                self.statusBar().showMessage(f"stopped after {self.frames_shown} frames (--frames)")
                self.source_ended.emit()
            else:
                self.model.finish_stream()

    def _on_stream_finished(self, ended: list) -> None:
        self._update_events(list(ended), {})
        self.statusBar().showMessage("end of file (Space plays it again)")
        self.source_ended.emit()

    def _on_playing(self, playing: bool) -> None:
        self.play_button.setText("Pause" if playing else "Play")

    def _on_model(self, info: ModelInfo) -> None:
        self.model_info = info
        self.capture.set_session(info.session)
        self.view.fps = info.fps
        self.timeline.classes = list(info.classes)
        self.model_label.setText(info.description)
        self.weights_notice.setVisible(not info.has_weights)
        self.warmup.setRange(0, max(info.receptive_field, 1))
        self.warmup.setValue(0)
        self.warmup.setFormat(f"warming up {warmup_text((0, info.receptive_field), info.fps)}")
        pending, self._open_after_model = self._open_after_model, None
        if pending is not None:
            self.capture.open_source(pending)
        elif self.source_request is not None and self.source_info is not None and \
                natural_layout(self.source_request.spec, info.layout) != self.source_info.layout:
            self.capture.open_source(self.source_request)  # the open source was read for another layout
        name = info.name
        if name in self.model_actions:
            self.model_actions[name].setChecked(True)
        weights = info.request.weights
        for names_, action in self.bundled_actions.items():
            action.setChecked(weights is not None and weights in names_)
        self.settings.model = info.request.model or name
        self.settings.weights = info.request.weights
        self.settings.precision = info.request.precision
        self.precision_actions[info.request.precision].setChecked(True)
        self.model_loaded.emit(info)

    def _on_model_failed(self, message: str) -> None:
        if self.model_info is not None:
            self.model_label.setText(self.model_info.description)
        self.show_error(message)

    def _on_recording(self, recording: bool, message: str) -> None:
        self.recording = recording
        self.record_button.setChecked(recording)
        self.record_button.setText("● Rec" if recording else "Record")
        self.record_action.setText("Stop recording" if recording else "Record…")
        self.statusBar().showMessage(message)
        if message.startswith("recording failed"):
            self.show_error(message)

    def _on_result(self, r: StepResult) -> None:
        info = self.source_info
        if info is None or r.source_id != info.source_id:
            return  # a frame of a source that was closed since
        now = time.perf_counter()
        self._arrivals.append(now)
        if len(self._arrivals) >= 2 and self._arrivals[-1] > self._arrivals[0]:
            self.fps = (len(self._arrivals) - 1) / (self._arrivals[-1] - self._arrivals[0])
        self.frames_shown += 1
        self.last_result = r
        if self._end_pending:
            QTimer.singleShot(0, self._check_end)
        pred = r.prediction
        if pred is not None and pred.top:  # strided models predict every few frames: the bars keep the latest
            self.last_top, self._last_top1 = list(pred.top), r.top1
        if r.step.gap is not None:  # the stream came back: say so for a few seconds
            text = f"stream back after {r.step.gap:.1f} s" + (", model restarted" if r.step.reset else "")
            self.statusBar().showMessage(text, 5000)
            self.view.set_notice(text)
            self._notice_until = now + 3.0
        elif self._notice_until and now > self._notice_until and self.stream_status is None:
            self._notice_until = 0.0
            self.view.set_notice(None)
        self.view.set_result(r)
        self._show_events(r)
        self._alarm_events(r.events)
        self.bars.set_top(self.last_top)
        fps = self.model_info.fps if self.model_info is not None else 30.0
        seen, rf = pred.warmup if pred is not None else (0, self.warmup.maximum())
        if self.warmup.maximum() != max(rf, 1):
            self.warmup.setRange(0, max(rf, 1))
        ready = pred is not None and pred.ready
        early = pred is not None and not ready and pred.exact
        # a model that answers exactly while its window fills (early mode ``exact``) is not "warming up": its
        # answers are final from the first frames, so the bar is full and says so
        self.warmup.setValue(rf if early else min(seen, rf))
        self.warmup.setFormat(f"ready ({rf / fps:.1f} s receptive field)" if ready
                              else f"answering from the {seen / fps:.1f} s seen (exact; window {rf / fps:.1f} s)"
                              if early else f"warming up {warmup_text((seen, rf), fps)}")
        if pred is not None:
            self.weights_notice.setVisible(not pred.has_weights)
        model_ms = pred.model_ms if pred is not None else None
        if r.frame.posed:  # a held picture (pose skipped: the model does not use it) shows the last pose time
            self._pose_ms = r.frame.pose_ms
        self.plot.add(pose=self._pose_ms, model=model_ms, latency=r.latency_ms)
        pose = "  –  " if self._pose_ms is None else f"{self._pose_ms:5.1f}"
        model = "  –  " if model_ms is None else f"{model_ms:5.1f}"
        self.timing_label.setText(f"pose {pose} ms   model {model} ms\n"
                                  f"{self.fps:5.1f} fps   capture→result {r.latency_ms:5.0f} ms"
                                  + (f"\ndropped {r.dropped} stale frames" if r.dropped else ""))
        self.timeline.set(r.frame.index, self._last_top1, ready)
        if not info.live:
            if not self.slider.isSliderDown():
                self.slider.blockSignals(True)
                self.slider.setValue(int(r.frame.index))
                self.slider.blockSignals(False)
            total = f"/{info.num_frames}" if info.num_frames else ""
            self.position_label.setText(f"{r.frame.index + 1}{total}  {r.frame.timestamp:6.2f} s")
        else:
            self.position_label.setText(f"{r.frame.timestamp:8.2f} s")
        self.frame_shown.emit(r)

    def _poll_stream(self) -> None:
        """Show a live stream's reconnection while no frame comes (the capture worker waits in the source)."""
        info = self.source_info
        status = self.capture.source_status() if info is not None and info.live else None
        if status == self.stream_status:
            return
        self.stream_status = status
        if status is not None:
            self.view.set_notice(status)
            self.statusBar().showMessage(f"{info.name if info else 'stream'}: {status}")
        elif not self._notice_until:
            self.view.set_notice(None)

    def _on_view_resized(self, width: int, height: int) -> None:
        self.model.set_view_size(width, height)  # a plain call: the worker's thread runs no event loop

    def _slider_action(self, action: int) -> None:
        # page/step clicks on the groove (not drags) seek at once
        if not self.slider.isSliderDown():
            QTimer.singleShot(0, lambda: self.seek(self.slider.sliderPosition()))

    # -- shutdown -----------------------------------------------------------------------------------------------------
    def shutdown(self) -> bool:
        """Stop both workers and wait for their threads (releases the camera); True when both threads ended."""
        if self._closed:
            return True
        self._closed = True
        self.model.stop()  # both stop at once; then wait for each
        ok = [stop_worker(self.capture, self.capture_thread, 15000), stop_worker(self.model, self.model_thread, 15000)]
        if not all(ok):
            print("cognn-app: warning: a worker thread did not stop within 15 s (a camera that does not answer?)",
                  file=sys.stderr)
        else:  # the worker is gone: the stream it was on ends here, its events going on close as at a file's end
            self._update_events(self.model.finish_now(), {})
        return all(ok)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.settings.window_size = self.size()
        self.settings.geometry = self.saveGeometry()
        self.settings.top_k = self.top_k
        self.settings.sync()
        self.shutdown()
        super().closeEvent(event)
        self.closed.emit()
