"""A fine-tuned transformer: ``AutoModelForSequenceClassification`` trained with ``Trainer``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from stance.models.base import StanceClassifier
from stance.models.progress import keep_random_state, logging_steps, trainer_callback, validation_set

WEIGHTS_DIR = "hf"


def _macro_f1(prediction, classes: np.ndarray, unseen: str) -> float:
    """Macro-F1 of a ``Trainer``'s ``EvalPrediction`` (logits, class ids; -100: a label ``classes`` lacks)."""
    from sklearn.metrics import f1_score

    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    gold = np.asarray(prediction.label_ids)
    names = np.where(gold >= 0, classes[np.clip(gold, 0, None)], unseen)
    return float(f1_score(names, classes[np.argmax(logits, axis=-1)], average="macro", zero_division=0))


class FineTuneClassifier(StanceClassifier):
    """Fine-tunes a pretrained encoder with a classification head (default: the packaged MiniLM).

    With ``use_target`` the input is the pair (statement, target), encoded the way the
    backbone encodes sentence pairs. ``pretrained`` takes any local folder or hub id (a hub
    id needs ``HF_HUB_OFFLINE=0`` and a network). The label map (id2label) is saved inside
    the model and checked when it is loaded. Prediction sorts statements by length and pads
    each batch only to its longest member. ``class_weight="balanced"`` weighs the
    cross-entropy loss by inverse label frequency (as the linear models' option does).
    ``device``: auto (a CUDA GPU when there is one), cpu, cuda or cuda:N. Training runs in bf16
    autocast on a GPU (fp16 where bf16 is not supported) and on a CPU with bf16 matrix units
    (AMX, AVX512-BF16), unless ``mixed_precision=False``; each epoch's loss and the time left are logged.
    ``gradient_accumulation_steps`` makes the effective batch ``batch_size`` times that.
    Fitted inside :func:`stance.models.progress.validation` (the engine does it around each fold's
    fit), the ``Trainer`` scores the held-out statements after each epoch and reports ``val_macro_f1``
    (scikit-learn's macro-F1 over the labels in gold or predicted, as the fold's own score) and
    ``val_loss``. Evaluation only watches: no early stopping, no best checkpoint, and it runs with
    the random state set aside, so the trained model is the same with or without it.

    Parameters
    ----------
    %(pretrained)s
    max_length : int, default=128
        Tokens per input (statement and target together with ``use_target``); longer inputs
        are cut, in training and prediction. Also the model's :meth:`input_limit`.
    epochs : float, default=8.0
        Training epochs (``num_train_epochs`` of the ``Trainer``; may be fractional).
    learning_rate : float, default=1e-4
        Peak learning rate of the optimizer.
    batch_size : int, default=8
        Training statements per batch (per device).
    weight_decay : float, default=0.01
        Weight decay of the optimizer.
    warmup : float, default=0.1
        Linear learning-rate warmup, passed as the ``Trainer``'s ``warmup_steps``: a value in
        [0, 1) is a fraction of the training steps, a whole number >= 1 a number of steps.
    max_steps : int, default=-1
        When > 0, the number of training steps, overriding ``epochs``; -1: train ``epochs``.
    use_target : bool, default=True
        Encode the input as the pair (statement, target); False: the statement alone.
    predict_batch_size : int, default=64
        Statements per batch in :meth:`predict_proba`.
    class_weight : {"balanced"} or None, default=None
        "balanced" weighs the cross-entropy loss by inverse label frequency; None uses the
        ``Trainer``'s unweighted loss.
    device : str, default="auto"
        Where the model trains and predicts: "auto" (a CUDA GPU when there is one, else the
        CPU), "cpu", "cuda" or "cuda:N"; "cuda" without a GPU raises ``StanceError``.
    mixed_precision : bool, default=True
        Train in bf16 or fp16 autocast where the device supports it (see above); False: fp32.
        Prediction always runs in fp32.
    gradient_accumulation_steps : int, default=1
        Batches whose gradients are accumulated before each optimizer step.
    seed : int, default=0
        Seed of the new head's initial weights, of the training and of the data order.

    Attributes
    ----------
    %(fitted)s
    tokenizer_ : transformers.PreTrainedTokenizerBase
        The backbone's tokenizer.
    model_ : transformers.PreTrainedModel
        The fine-tuned ``AutoModelForSequenceClassification`` in fp32 and eval mode, its
        ``id2label`` following ``classes_``. ``model_`` and ``tokenizer_`` are not in ``estimator.skops``:
        :meth:`save` writes them to the folder ``hf`` beside ``estimator.skops`` and
        :func:`~stance.models.base.load_estimator` loads them back.
    """

    family = "transformer"

    def __init__(self, pretrained: str | None = None, max_length: int = 128, epochs: float = 8.0,
                 learning_rate: float = 1e-4, batch_size: int = 8, weight_decay: float = 0.01,
                 warmup: float = 0.1, max_steps: int = -1, use_target: bool = True,
                 predict_batch_size: int = 64, class_weight: str | None = None, device: str = "auto",
                 mixed_precision: bool = True, gradient_accumulation_steps: int = 1, seed: int = 0):
        self.pretrained = pretrained
        self.max_length = max_length
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.warmup = warmup
        self.max_steps = max_steps
        self.use_target = use_target
        self.predict_batch_size = predict_batch_size
        self.class_weight = class_weight
        self.device = device
        self.mixed_precision = mixed_precision
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.seed = seed

    def _encode(self, texts: list[str], targets: list[str], padding=False):
        pair = targets if self.use_target else None
        return self.tokenizer_(texts, pair, truncation=True, max_length=self.max_length, padding=padding)

    def fit(self, X, y):
        from datasets import Dataset
        from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                                  PrinterCallback, Trainer, TrainingArguments, set_seed)

        from stance.models.encoders import load, mixed_precision, resolve_device, torch_threads

        torch_threads()
        device = resolve_device(self.device)
        precision = mixed_precision(device) if self.mixed_precision else None
        texts, targets = self._remember_targets(X)
        encoded = self._set_classes(y)
        set_seed(self.seed)  # the new head's initial weights
        self.tokenizer_ = load(AutoTokenizer.from_pretrained, self.pretrained)
        from transformers.utils import logging as hf_logging

        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # its load report only says that the new head is untrained
        try:
            model = load(
                AutoModelForSequenceClassification.from_pretrained, self.pretrained, num_labels=len(self.classes_),
                id2label=dict(enumerate(self.classes_.tolist())),
                label2id={lab: i for i, lab in enumerate(self.classes_.tolist())},
            )
        finally:
            hf_logging.set_verbosity(level)
        features = self._encode(texts, targets)
        data = Dataset.from_dict({**features, "labels": encoded.tolist()})
        held_out, compute_metrics = self._validation_data()
        with tempfile.TemporaryDirectory() as scratch:
            args = TrainingArguments(
                output_dir=scratch, num_train_epochs=self.epochs, max_steps=self.max_steps,
                learning_rate=self.learning_rate, per_device_train_batch_size=self.batch_size,
                weight_decay=self.weight_decay, warmup_steps=self.warmup, seed=self.seed, data_seed=self.seed,
                gradient_accumulation_steps=self.gradient_accumulation_steps, use_cpu=device == "cpu",
                bf16=precision == "bf16", fp16=precision == "fp16",
                report_to="none", save_strategy="no", disable_tqdm=True, logging_strategy="steps",
                logging_steps=logging_steps(len(texts), self.batch_size, self.gradient_accumulation_steps),
                dataloader_num_workers=0,
                # batches of statements of similar length: about 30% less padding to compute on
                train_sampling_strategy="group_by_length",
                # held-out statements scored after each epoch, only watched (see the class docstring)
                eval_strategy="epoch" if held_out is not None else "no",
                per_device_eval_batch_size=self.predict_batch_size,
            )
            trainer = Trainer(
                model=model, args=args, train_dataset=data, eval_dataset=held_out, compute_metrics=compute_metrics,
                data_collator=DataCollatorWithPadding(self.tokenizer_), compute_loss_func=self._weighted_loss(encoded),
                callbacks=[trainer_callback(f"fine-tuning ({precision or 'fp32'})")])
            trainer.remove_callback(PrinterCallback)  # no metrics dict printed at the end
            keep_random_state(trainer)
            trainer.train()
        self.model_ = trainer.model.float().eval()
        return self

    def _validation_data(self):
        """The held-out statements offered by :func:`~stance.models.progress.validation`, encoded for
        the ``Trainer``, and its ``compute_metrics``; ``(None, None)`` when none are offered."""
        offered = validation_set()
        if offered is None or len(offered[1]) == 0:
            return None, None
        from datasets import Dataset

        texts, targets = self._inputs(offered[0])
        gold = np.asarray(offered[1]).astype(str)
        known = {label: k for k, label in enumerate(self.classes_.tolist())}
        unseen = sorted(set(gold.tolist()) - set(known))
        # a label missing from training has no class id: -100 (left out of the loss), an error in the F1
        ids = [known.get(label, -100) for label in gold.tolist()]
        data = Dataset.from_dict({**self._encode(texts, targets), "labels": ids})
        unseen_name = unseen[0] if len(unseen) == 1 else "(not in training)"
        return data, lambda prediction: {"macro_f1": _macro_f1(prediction, self.classes_, unseen_name)}

    def _torch_device(self) -> str:
        from stance.models.encoders import resolve_device

        return resolve_device(getattr(self, "device", "cpu"))  # models saved before the option: the CPU

    def _weighted_loss(self, encoded: np.ndarray):
        """A class-weighted cross-entropy for the Trainer, or None (its own loss) without ``class_weight``."""
        if self.class_weight is None:
            return None
        import torch
        from sklearn.utils.class_weight import compute_class_weight

        weights = torch.tensor(compute_class_weight(self.class_weight, classes=np.arange(len(self.classes_)),
                                                    y=encoded), dtype=torch.float32)

        def loss(outputs, labels, num_items_in_batch=None):
            return torch.nn.functional.cross_entropy(outputs.logits.float(), labels, weight=weights.to(outputs.logits.device))

        return loss

    def predict_proba(self, X):
        import torch

        texts, targets = self._inputs(X)
        order = np.argsort([len(t) for t in texts], kind="stable")
        proba = np.zeros((len(texts), len(self.classes_)))
        device = self._torch_device()
        self.model_.to(device)
        with torch.inference_mode():
            for start in range(0, len(texts), self.predict_batch_size):
                batch = order[start : start + self.predict_batch_size]
                inputs = self._encode([texts[i] for i in batch], [targets[i] for i in batch], padding="longest")
                logits = self.model_(**{k: torch.tensor(v, device=device) for k, v in inputs.items()}).logits
                proba[batch] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        return proba

    def input_limit(self) -> int:
        return self.max_length

    def lean_spec(self, spec) -> dict:
        """The whole fine-tuned network as one ONNX graph (token ids to logits) and a softmax."""
        return {"*": {"features": [spec.classifier(self, pair=self.use_target)],
                      "head": spec.softmax(list(range(len(self.classes_))))}}

    def _token_counts(self, texts, targets):
        pair = targets if self.use_target else None
        return [len(ids) for ids in self.tokenizer_(texts, pair, truncation=False)["input_ids"]]

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("model_", None)
        state.pop("tokenizer_", None)
        return state

    def _save_weights(self, path: Path) -> None:
        self.model_.save_pretrained(str(path / WEIGHTS_DIR))
        self.tokenizer_.save_pretrained(str(path / WEIGHTS_DIR))

    def _load_weights(self, path: Path) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        weights = str(path / WEIGHTS_DIR)
        self.tokenizer_ = AutoTokenizer.from_pretrained(weights, local_files_only=True)
        self.model_ = AutoModelForSequenceClassification.from_pretrained(weights, local_files_only=True).eval()
        saved = [self.model_.config.id2label[i] for i in range(len(self.model_.config.id2label))]
        if saved != self.classes_.tolist():
            raise ValueError(f"saved id2label {saved} does not match classes_ {self.classes_.tolist()}")
