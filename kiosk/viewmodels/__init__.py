"""Screen logic of the kiosk in plain Python: no Kivy imports, tested without a window.

``KioskViewModel`` owns the visitor's session; each feature (ticket, guide, case lookup,
rating) is a flow object with its own state. After every change the view-model renders one
flat dict of display values (already translated and privacy-masked) into a
``deviceui.screens.UiModel``; the Kivy screens only bind to those values.
"""

from kiosk.viewmodels.kiosk import KioskViewModel
from kiosk.viewmodels.session import InlineRunner, Screen, Session, TaskRunner, ThreadRunner

__all__ = ["InlineRunner", "KioskViewModel", "Screen", "Session", "TaskRunner", "ThreadRunner"]
