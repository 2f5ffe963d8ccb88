"""SetFit: contrastive fine-tuning of a sentence encoder, then a logistic-regression head."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from stance.models.base import StanceClassifier
from stance.models.progress import keep_random_state, logging_steps, trainer_callback, validation_set

WEIGHTS_DIR = "setfit"


class SetFitClassifier(StanceClassifier):
    """SetFit on a sentence-transformers backbone (default: the packaged MiniLM).

    SetFit takes one text, so with ``use_target`` the input is ``"<target>: <statement>"``.
    The logistic-regression head weighs classes by ``class_weight`` (as the other linear
    models do), so that a rare label is not drowned out.
    ``max_steps`` (when > 0) caps the contrastive phase, for quick debug runs. ``device``: auto
    (a CUDA GPU when there is one, with mixed precision), cpu, cuda or cuda:N.
    Fitted inside :func:`stance.models.progress.validation` (the engine does it around each fold's
    fit), the contrastive phase scores pairs of the held-out statements after each epoch with its
    own loss and reports it as ``val_embedding_loss`` (SetFit's ``Trainer`` evaluates only that per
    epoch: the logistic head is fitted after the contrastive phase, so there is no macro-F1 by epoch).
    Evaluation only watches: no early stopping, no best checkpoint, the random state set aside,
    so the trained model is the same with or without it.

    Parameters
    ----------
    %(pretrained)s
    num_iterations : int, default=5
        Contrastive pairs per training statement: SetFit generates this many positive and as many
        negative pairs for each.
    num_epochs : int, default=1
        Epochs of the contrastive phase.
    batch_size : int, default=16
        Pairs per batch in the contrastive phase.
    body_learning_rate : float, default=2e-5
        Learning rate of the encoder in the contrastive phase.
    max_steps : int, default=-1
        When > 0, the contrastive phase stops after this many steps; -1: no cap.
    max_length : int, default=128
        Passed to SetFit's ``TrainingArguments.max_length``. SetFit uses it only to train a
        differentiable head, so with the logistic-regression head used here it has no effect:
        the encoder reads up to its own ``max_seq_length`` (:meth:`input_limit`).
    class_weight : {"balanced"} or None, default="balanced"
        Label weights of the logistic-regression head: "balanced" weighs each label by the
        inverse of its training frequency, None weighs every statement alike.
    use_target : bool, default=True
        Train and predict on ``"<target>: <statement>"`` (the statement alone when the target
        is empty).
    device : str, default="auto"
        Where the model trains and predicts: "auto" (a CUDA GPU when there is one, else the
        CPU), "cpu", "cuda" or "cuda:N". Mixed precision is used in training on a GPU and on a
        CPU with bf16 matrix instructions. "cpu" while a GPU is visible raises ``StanceError``
        in ``fit`` (SetFit would train on the GPU); hide it with ``CUDA_VISIBLE_DEVICES=``.
    seed : int, default=0
        Seed of the training (``transformers.set_seed`` and SetFit's ``seed``) and
        ``random_state`` of the head.

    Attributes
    ----------
    %(fitted)s
    model_ : setfit.SetFitModel
        The trained model: ``model_body`` the fine-tuned sentence encoder, ``model_head`` the
        logistic regression (trained on class indices), ``labels`` equal to ``classes_``. It is
        not in ``estimator.skops``: :meth:`save` writes it to the folder ``setfit`` beside it
        and :func:`~stance.models.base.load_estimator` loads it back on ``device``.
    """

    family = "setfit"

    def __init__(self, pretrained: str | None = None, num_iterations: int = 5, num_epochs: int = 1,
                 batch_size: int = 16, body_learning_rate: float = 2e-5, max_steps: int = -1,
                 max_length: int = 128, class_weight: str | None = "balanced", use_target: bool = True,
                 device: str = "auto", seed: int = 0):
        self.pretrained = pretrained
        self.num_iterations = num_iterations
        self.num_epochs = num_epochs
        self.batch_size = batch_size
        self.body_learning_rate = body_learning_rate
        self.max_steps = max_steps
        self.max_length = max_length
        self.class_weight = class_weight
        self.device = device
        self.use_target = use_target
        self.seed = seed

    def _join(self, texts: list[str], targets: list[str]) -> list[str]:
        return [f"{t}: {s}" if self.use_target and t else s for s, t in zip(texts, targets)]

    def _texts(self, X) -> list[str]:
        return self._join(*self._inputs(X))

    def fit(self, X, y):
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments
        from transformers import ProgressCallback, set_seed

        from stance.models.encoders import load, mixed_precision, resolve_device, torch_threads

        torch_threads()
        device = resolve_device(self.device)
        if device == "cpu" and self.device == "cpu":
            import torch

            if torch.cuda.is_available():  # SetFit's trainer places the body on any visible GPU itself
                from stance.errors import StanceError

                raise StanceError("SetFit trains on a visible GPU whatever device says: hide it with "
                                  "CUDA_VISIBLE_DEVICES= to train on the CPU")
        self._remember_targets(X)
        encoded = self._set_classes(y)
        set_seed(self.seed)
        model = load(SetFitModel.from_pretrained, self.pretrained, labels=list(self.classes_), device=device)
        model.model_head.set_params(class_weight=self.class_weight, random_state=self.seed, max_iter=2000)
        data = Dataset.from_dict({"text": self._texts(X), "label": encoded.tolist()})
        held_out = self._validation_data()
        with tempfile.TemporaryDirectory() as scratch:
            args = TrainingArguments(
                output_dir=scratch, batch_size=self.batch_size, num_epochs=self.num_epochs,
                num_iterations=self.num_iterations, body_learning_rate=self.body_learning_rate,
                max_steps=self.max_steps, max_length=self.max_length, seed=self.seed,
                use_amp=mixed_precision(device) is not None,
                report_to="none", save_strategy="no", show_progress_bar=False, logging_strategy="steps",
                # SetFit draws num_iterations positive and as many negative pairs per statement
                logging_steps=logging_steps(2 * self.num_iterations * len(encoded), self.batch_size),
                # held-out pairs scored after each epoch, only watched (see the class docstring)
                eval_strategy="epoch" if held_out is not None else "no",
            )
            trainer = Trainer(model=model, args=args, train_dataset=data, eval_dataset=held_out,
                              callbacks=[trainer_callback("SetFit")])
            trainer.remove_callback(ProgressCallback)  # SetFit does not pass disable_tqdm on
            keep_random_state(trainer.st_trainer)
            trainer.train()
        self.model_ = model
        return self

    def _validation_data(self):
        """The held-out statements offered by :func:`~stance.models.progress.validation` as SetFit's
        ``eval_dataset``, or None: none offered, or a single label among them (SetFit's pairs need a
        negative one). Pairs only need to know whether two labels are the same, so a label missing
        from training gets an id of its own."""
        offered = validation_set()
        gold = [] if offered is None else np.asarray(offered[1]).astype(str).tolist()
        if len(set(gold)) < 2:
            return None
        from datasets import Dataset

        ids = {label: k for k, label in enumerate(self.classes_.tolist())}
        for label in sorted(set(gold) - set(ids)):
            ids[label] = len(ids)
        return Dataset.from_dict({"text": self._texts(offered[0]), "label": [ids[label] for label in gold]})

    def predict_proba(self, X):
        proba = self.model_.predict_proba(self._texts(X), batch_size=64, as_numpy=True, show_progress_bar=False)
        return np.asarray(proba, dtype=float)

    def input_limit(self) -> int:
        return int(self.model_.model_body.max_seq_length)

    def _token_counts(self, texts, targets):
        joined = self._join(texts, targets)
        return [len(ids) for ids in self.model_.model_body.tokenizer(joined, truncation=False)["input_ids"]]

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("model_", None)
        return state

    def _save_weights(self, path: Path) -> None:
        self.model_.save_pretrained(str(path / WEIGHTS_DIR))

    def _load_weights(self, path: Path) -> None:
        from setfit import SetFitModel

        from stance.models.encoders import resolve_device

        device = resolve_device(getattr(self, "device", "cpu"))  # models saved before the option: the CPU
        self.model_ = SetFitModel.from_pretrained(str(path / WEIGHTS_DIR), local_files_only=True, device=device)
        if list(self.model_.labels or []) != list(self.classes_):
            raise ValueError(f"saved SetFit labels {self.model_.labels} do not match classes_ {list(self.classes_)}")
