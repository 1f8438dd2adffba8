"""Keras callbacks of the training loops: a time budget that cuts inside an epoch, and
progress bars over an epoch's steps or a fit's epochs."""

from __future__ import annotations

import time

import keras
from tqdm.auto import tqdm


class StepProgress(keras.callbacks.Callback):
    """A progress bar over one epoch's steps (an epoch of a large release takes minutes)."""

    def __init__(self, steps: int, description: str, enabled: bool) -> None:
        super().__init__()
        self.steps, self.description, self.enabled = steps, description, enabled
        self.bar: tqdm | None = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.bar = tqdm(total=self.steps, desc=self.description, unit="step",
                        disable=not self.enabled, leave=False)

    def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        if self.bar is not None:
            self.bar.close()


class EpochProgress(keras.callbacks.Callback):
    """A progress bar over a ``fit``'s epochs (the autoencoder's, minutes on a large release)."""

    def __init__(self, epochs: int, description: str, enabled: bool) -> None:
        super().__init__()
        self.bar = tqdm(total=epochs, desc=description, unit="epoch", disable=not enabled,
                        leave=False)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.bar.update(1)

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        self.bar.close()


class Deadline(keras.callbacks.Callback):
    """Stops ``fit`` after the first training step that ends at or past ``deadline``
    (``time.monotonic()``): a time budget cuts inside an epoch, not only between epochs (one
    epoch of an ML-25M-sized release is longer than a 30-minute budget on 2 cores)."""

    def __init__(self, deadline: float | None) -> None:
        super().__init__()
        self.deadline = deadline
        self.steps = 0  # steps trained in the current epoch
        self.cut = False

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.steps = 0

    def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        self.steps = batch + 1
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.cut = True
            self.model.stop_training = True
